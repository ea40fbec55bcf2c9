package shardlog

import (
	"fmt"
	"sort"

	"github.com/sluicehq/sluice/connectors/shardlog/internal/storage"
)

// Damage to stored records: what recovery will not cut (a closed shard's
// end, a sealed segment's batches), found at open, by reads, or by Verify.
// Reads stop at damage (GetRecords answers InternalFailure there) until an
// operator repairs it; the error log names it when it is found. Kinesis has
// no such state to show, so it is exposed here and by `sluice log check`
// rather than on the wire.

// DamageReport is one damaged range of a shard.
type DamageReport struct {
	Stream  string
	Shard   string
	Segment string // the segment file
	FilePos int64  // where in it the damage begins
	Offset  uint64 // the first record offset damaged
	End     uint64 // the offset after the last one damaged; 0 if not known
	Reason  string
	// First is the sequence number of the first record damaged (its
	// time fields are the shard's creation: it names the position).
	First SequenceNumber
}

func (d DamageReport) String() string {
	r := fmt.Sprintf("offset %d", d.Offset)
	if d.End > d.Offset+1 {
		r = fmt.Sprintf("offsets %d to %d", d.Offset, d.End-1)
	}
	r += fmt.Sprintf(" (from sequence number %s)", d.First)
	return fmt.Sprintf("stream %s shard %s: %s damaged, %s position %d: %s", d.Stream, d.Shard, r, d.Segment, d.FilePos, d.Reason)
}

// RepairMode says what Repair does with a damaged range.
type RepairMode int

const (
	// RepairSkip drops the damaged records: their positions are left as a
	// gap that reads step over (sequence numbers after it do not move).
	RepairSkip RepairMode = iota + 1
	// RepairSalvage keeps the records of a damaged batch whose framing is
	// intact (their bytes may be wrong) and skips what cannot be framed.
	RepairSalvage
)

// Repaired is one thing Repair did.
type Repaired struct {
	Stream, Shard string
	Detail        string // what was skipped or salvaged, and where
}

func (r Repaired) String() string {
	return fmt.Sprintf("stream %s shard %s: %s", r.Stream, r.Shard, r.Detail)
}

// eachShard calls f for every shard of every stream, in name and shard
// order, with the stream's write lock held (no append or read in flight).
func (l *Log) eachShard(f func(st *stream, sh *shard) error) error {
	l.mu.Lock()
	var sts []*stream
	for _, st := range l.mu.streams {
		sts = append(sts, st)
	}
	l.mu.Unlock()
	sort.Slice(sts, func(i, j int) bool { return sts[i].name < sts[j].name })
	for _, st := range sts {
		st.mu.Lock()
		for _, sh := range st.shards {
			if err := f(st, sh); err != nil {
				st.mu.Unlock()
				return err
			}
		}
		st.mu.Unlock()
	}
	return nil
}

func damageReports(st *stream, sh *shard, ds []storage.Damage) []DamageReport {
	var out []DamageReport
	for _, d := range ds {
		out = append(out, DamageReport{Stream: st.name, Shard: sh.id, Segment: d.Segment, FilePos: d.FilePos,
			Offset: d.Offset, End: d.End, Reason: d.Reason, First: seqAt(sh, d.Offset+1)})
	}
	return out
}

// Damage returns the damage known: found when the log was opened or by
// reads since.
func (l *Log) Damage() []DamageReport {
	var out []DamageReport
	_ = l.eachShard(func(st *stream, sh *shard) error {
		out = append(out, damageReports(st, sh, sh.log.Damage())...)
		return nil
	})
	return out
}

// Verify reads every stored batch in full, checking checksums and framing,
// and returns all damage. It blocks each stream's puts and reads while it
// reads that stream.
func (l *Log) Verify() ([]DamageReport, error) {
	var out []DamageReport
	err := l.eachShard(func(st *stream, sh *shard) error {
		ds, err := sh.log.Verify()
		if err != nil {
			return fmt.Errorf("shardlog: verify %s/%s: %w", st.name, sh.id, err)
		}
		out = append(out, damageReports(st, sh, ds)...)
		return nil
	})
	return out, err
}

// Repair verifies every shard and repairs each damaged range (see
// RepairMode), rewriting segments in place; it returns what it did. Meant
// for an operator (`sluice log repair`) on a log nothing else uses; it
// blocks each stream's puts and reads while it works on that stream.
func (l *Log) Repair(mode RepairMode) ([]Repaired, error) {
	var sm storage.RepairMode
	switch mode {
	case RepairSkip:
		sm = storage.RepairSkip
	case RepairSalvage:
		sm = storage.RepairSalvage
	default:
		return nil, fmt.Errorf("shardlog: unknown repair mode %d", mode)
	}
	var out []Repaired
	err := l.eachShard(func(st *stream, sh *shard) error {
		evs, err := sh.log.Repair(sm)
		for _, e := range evs {
			out = append(out, Repaired{Stream: st.name, Shard: sh.id, Detail: e.Detail + fmt.Sprintf(" (%s position %d)", e.Segment, e.FilePos)})
		}
		if err != nil {
			return fmt.Errorf("shardlog: repair %s/%s: %w", st.name, sh.id, err)
		}
		return nil
	})
	return out, err
}
