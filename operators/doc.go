// Package operators holds Sluice's built-in keyed operators: windows
// (assigners, triggers, evictors, allowed lateness), time-based joins,
// deduplication and top-N. They are built on package engine's keyed
// operators (engine.TransformKeyed) and keep everything in keyed state and
// keyed timers, so that the engine's checkpoints cover them and a restore
// mid-window — at the same or another parallelism — yields exactly the
// results of an uninterrupted run. Sub-package anomaly holds the anomaly
// detectors.
//
// # Windows
//
// The API follows Flink's DataStream windows. A keyed stream is cut into
// windows by an Assigner; a window function computes each window's
// result when its Trigger fires:
//
//	clicks := engine.KeyBy(events, func(e Event) string { return e.User })
//	w := operators.Window(clicks, "clicks-per-minute", operators.Tumbling(time.Minute)).
//		AllowedLateness(30 * time.Second)
//	counts := operators.AggregateWindowed(w, operators.Count[Event]())
//	late := engine.SideOutput(counts, operators.LateDataTag[Event]())
//
// Assigners: Tumbling (SQL TUMBLE), Sliding (HOP), Session and
// DynamicSession (a gap per record), Cumulate (CUMULATE: windows that grow
// by a step up to a maximum), Global. Each is in event time by default;
// InProcessingTime switches to the job's processing-time clock, WithOffset
// shifts the boundaries (time zones).
//
// Window functions: Aggregate, AggregateWindowed (with key and window),
// AggregateProcess (the incremental result handed to a
// ProcessWindowFunction with the window's metadata), Reduce,
// ReduceProcess, and Process (the full window's records). Incremental
// functions keep one accumulator per key and window; Process and
// evictors keep the records. Go's generic methods cannot add type
// parameters, so these are functions of the WindowedStream rather than
// methods.
//
// Triggers: EventTimeTrigger, ProcessingTimeTrigger, CountTrigger,
// ContinuousEventTimeTrigger and ContinuousProcessingTimeTrigger (early
// firings every interval), PurgingTrigger, NeverTrigger, or any
// implementation of Trigger. Evictors (CountEvictor, TimeEvictor,
// DeltaEvictor, or an implementation of Evictor) work on the full-window
// path, as in Flink.
//
// Results carry the window's time as their event time: its max timestamp
// (end - 1), as in Flink, except for event-time sessions, whose time is
// their end (below). WindowContext.WindowTime and TriggerContext.WindowTime
// return it.
//
// # Sliding windows on slices
//
// Tumbling, sliding and cumulating windows with the default trigger and no
// evictor run on shared slices, as Flink SQL's window operators do: time
// is cut into slices (the size for tumbling windows, gcd(size, slide) for
// sliding ones, the step for cumulating ones), a record updates the
// accumulator of the one slice it falls in, and a window merges its
// slices' accumulators when it fires. A 10 s window sliding every 2 s thus
// costs one state update per record, like a tumbling window, plus a merge
// of five small accumulators per key and slide. Each key's live slices
// are one state entry (see sliceOp), and a key has at most one pending
// firing timer in the steady state.
//
// Session windows with the default trigger and no evictor likewise keep a
// key's sessions, with their accumulators, in one state entry, and set
// timers lazily (sessionOp): a session that grows with every record does
// not move a timer with every record, as per-window timers would.
//
// As in Flink, sessions that touch (one ends where the next starts) merge.
// Unlike Flink, and on purpose, an event-time session fires when the
// watermark reaches its end (watermark >= end), one millisecond later
// than Flink, which fires it at its last millisecond, end-1. A record at
// exactly end touches the session and extends it, and it is on time until
// the watermark reaches end; fired at end-1, a session would be extended
// by such a record, or
// split from it, depending on whether it arrived before or after that
// watermark — with parallel sources, on timing. Fired at end, every record
// that could still change a fired session is behind the watermark, that
// is late, and the lateness rules below decide its fate the same way
// whatever the timing of on-time records. This holds for Session and
// DynamicSession, on the fast path and the general operator
// (EventTimeTrigger and ContinuousEventTimeTrigger fire at
// TriggerContext.WindowTime, which user triggers should use too).
//
// For the same reason a session's results carry end, not end-1, as their
// event time: the operator has passed the watermark end-1 on downstream
// before the session fires, so a result at end-1 would be late for the
// next event-time operator (a count of sessions per minute would drop the
// sessions that end on the minute), while one at end is not, as Flink's
// results at end-1 are not. Such a result falls in the downstream window
// that holds end. Processing-time sessions fire, and their results carry,
// end-1, as in Flink.
//
// With any explicit trigger or an evictor, windows use the general
// operator (windowOp), which keeps one state entry per key and window and
// a merging set for sessions, as Flink's WindowOperator. The fast paths
// and the general operator give the same results; the package's tests
// check them against naive references.
//
// Merge(a, b) of an Aggregator used on slices may modify and return a but
// must neither modify nor keep b, which stays in state.
//
// # Lateness and bad records
//
// An event-time window stays open for AllowedLateness after it fired (the
// watermark reached its time: end-1, or end for a session): a record that
// arrives meanwhile is added and the window fires again with the updated
// result (Flink's semantics). A record too late for every window it
// belongs to — for sessions: when the watermark has reached end + allowed
// lateness of its own window [ts, ts+gap) and of every open session it
// touches, that is of every session it could join — goes to the late-data
// side output
// (LateDataTag, or the tag given to SideOutputLateData) and is counted in
// the operator's CounterLate counter (engine.OperatorMetrics.Counters),
// whether or not a stream consumes the side output: late records are never
// dropped silently. Records without a timestamp (engine.NoTimestamp: the
// source had none, or its timestamp function could not parse one) and
// records whose dynamic session gap is not positive go to ErrorTag and
// are counted in CounterErrors.
//
// The operators keep their watermark in operator state: a restored
// operator judges lateness as the one that took the checkpoint did, not by
// the minimum watermark a restarted job starts from.
//
// Processing-time windows have no lateness. Processing-time timers still
// pending when a bounded input ends do not fire (as in Flink).
//
// # Joins, deduplication, top-N
//
// IntervalJoin joins two keyed streams on a.ts + lower <= b.ts <= a.ts +
// upper, buffering each side in keyed map state until the watermark says
// no match can come; records behind the watermark go to per-side late
// outputs. WindowJoin pairs the records of two streams that share a key
// and a window (any assigner; sliced for tumbling, sliding and cumulating
// windows).
//
// Dedup emits a changelog (Change: Insert, UpdateBefore, UpdateAfter), as
// Flink SQL's deduplication does: "keep last" cannot be an append-only
// stream without waiting for the end of the input, and retracting the
// previous row is the only way to say which result a new one replaces.
// DedupFirst is the append-only special case (first by arrival), and
// DedupWindow keeps one record per key and window (its first or last in
// event time) as a plain stream. TopN ranks the records of each key and
// window.
//
// # State layout
//
// Everything is keyed state of the operator (under its uid), versioned as
// noted on each encoding: "window-slices" (sliced windows: one slice set
// per key), "window-sessions" (default-trigger sessions: one session set
// per key), "window-contents" (general windows: per key and window, the
// window encoded as 16 bytes in the namespace), "window-merging"
// (sessions: per key, each window and the window whose namespace holds its
// contents), "trigger/<name>" (trigger state per window), "join-left" and
// "join-right" (interval join buffers: timestamp → records),
// "dedup-kept"/"dedup-seen"; timers namespaced by window ("F"/"C" on
// sliced windows, none on default-trigger sessions, "L"/"R" in the
// interval join); and in operator state the watermark.
//
// # Concurrency
//
// Building (Window, Aggregate, ...) happens on the goroutine that builds
// the job. Operators run on their task's goroutine. User functions,
// triggers and evictors passed to several parallel instances must be safe
// to share; pointers to structs are copied shallowly per instance (as
// engine.Process does), so fields set at run time belong to one instance.
package operators
