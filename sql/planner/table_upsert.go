package planner

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/connectors/shardlog/shardconn"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/format"
	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/state"
)

// This file is the 'upsert-shardlog' table (catalog.UpsertShardLog): the
// log written and read by primary key. A tombstone (a -D) is a record of
// the key with empty data.

// upsertScanMode is the changelog mode of a scan of table t: an upsert
// table is read as a changelog keyed by its primary key; nil for other
// tables (append-only).
func upsertScanMode(t *catalog.Table) *changelogMode {
	if n := t.Factory.Name(); n != "upsert-shardlog" && n != "upsert-kafka" {
		return nil
	}
	return &changelogMode{updates: true, upsertKey: t.PrimaryKey.Indexes(t), producer: fmt.Sprintf("ChangelogNormalize(key=[%s])", strings.Join(t.PrimaryKey.Columns, ", "))}
}

// upsertCodecs are the key and value codecs of upsert table t.
func upsertCodecs(t *catalog.Table, value *row.Layout) (key, val format.Codec, keyIdx []int, err error) {
	kl := catalog.KeyLayout(t)
	if key, err = format.New(t.Options["key.format"], t.Options, "key.", kl); err != nil {
		return nil, nil, nil, fmt.Errorf("table '%s': %w", t.Name, err)
	}
	if val, err = format.New(t.Options["value.format"], t.Options, "value.", value); err != nil {
		return nil, nil, nil, fmt.Errorf("table '%s': %w", t.Name, err)
	}
	for _, c := range t.PrimaryKey.Columns {
		for i := range value.Len() {
			if value.Name(i) == c {
				keyIdx = append(keyIdx, i)
			}
		}
	}
	return key, val, keyIdx, nil
}

// buildUpsertLogSink writes the changelog s by key: +I and +U as the
// row's value, -D as a tombstone; -U is not written.
func (ip *insertPlan) buildUpsertLogSink(s *engine.Stream[*row.Row], o RunOptions) error {
	t := ip.sink
	dir, err := logDir(t, o)
	if err != nil {
		return err
	}
	l, err := o.res.log(dir)
	if err != nil {
		return err
	}
	keyC, valC, keyIdx, err := upsertCodecs(t, ip.sinkL)
	if err != nil {
		return err
	}
	keyL := catalog.KeyLayout(t)
	enc := func(r *row.Row, buf []byte) (shardlog.PutEntry, error) {
		kr := keyL.New()
		for i, k := range keyIdx {
			if r.IsNull(k) {
				return shardlog.PutEntry{}, fmt.Errorf("table '%s': primary key column '%s' is NULL", t.Name, keyL.Name(i))
			}
			if err := kr.Set(i, r.Get(k)); err != nil {
				return shardlog.PutEntry{}, err
			}
		}
		key, err := keyC.Encode(nil, kr)
		if err != nil {
			return shardlog.PutEntry{}, fmt.Errorf("table '%s': key: %w", t.Name, err)
		}
		key = bytes.TrimRight(key, "\n")
		if n := len(key); n < 1 || n > shardlog.MaxPartitionKeyLen {
			return shardlog.PutEntry{}, fmt.Errorf("table '%s': the key %q in 'key.format' is %d bytes; a partition key needs 1 to %d", t.Name, key, n, shardlog.MaxPartitionKeyLen)
		}
		if r.Kind == row.Delete {
			return shardlog.PutEntry{PartitionKey: string(key)}, nil
		}
		data, err := valC.Encode(buf, r)
		if err != nil {
			return shardlog.PutEntry{}, fmt.Errorf("table '%s': %w", t.Name, err)
		}
		return shardlog.PutEntry{PartitionKey: string(key), Data: data}, nil
	}
	sink, err := shardconn.NewSink(l, shardconn.SinkOptions{Stream: shardlog.StreamRef{Name: t.Options["stream"]}}, enc)
	if err != nil {
		return fmt.Errorf("table '%s': %w", t.Name, err)
	}
	upserts := engine.FlatMap(s, ip.op(t.Name+"-upserts"), func(r *row.Row, emit func(*row.Row)) {
		if r.Kind != row.UpdateBefore {
			emit(r)
		}
	})
	engine.SinkTo(upserts, ip.op(t.Name), sink)
	return nil
}

// buildUpsertLogSource reads the table's stream from its start: each
// record decoded as an upsert (a value) or a tombstone (empty data: a
// -D of the key), then normalized by key into a changelog.
func (ip *insertPlan) buildUpsertLogSource(j *engine.Job, o RunOptions) (*engine.Stream[*row.Row], error) {
	t := ip.src.table
	l, ref, edir, err := openTableStream(t, o)
	if err != nil {
		return nil, err
	}
	layout := ip.src.layout // physical columns only (the factory's check)
	keyC, valC, keyIdx, err := upsertCodecs(t, layout)
	if err != nil {
		return nil, err
	}
	decode := func(rec *shardlog.Record) (*row.Row, error) {
		if len(rec.Data) == 0 {
			kr, err := keyC.Decode([]byte(rec.PartitionKey))
			if err != nil || kr == nil {
				return nil, err
			}
			r := layout.New()
			for i, k := range keyIdx {
				if !kr.IsNull(i) {
					if err := r.Set(k, kr.Get(i)); err != nil {
						return nil, err
					}
				}
			}
			r.Kind = row.Delete
			return r, nil
		}
		fr, err := valC.Decode(rec.Data)
		if err != nil || fr == nil {
			return nil, err
		}
		r := layout.New()
		for i := range layout.Len() {
			if fr.IsNull(i) {
				if !layout.Type(i).IsNullable() {
					return nil, fmt.Errorf("column '%s' is NOT NULL, but the record gives no value for it", layout.Name(i))
				}
				continue
			}
			if err := r.Set(i, fr.Get(i)); err != nil {
				return nil, err
			}
		}
		return r, nil
	}
	opts := shardconn.SourceOptions{Stream: ref, Bounded: t.Options["scan.bounded"] == "true"}
	opts.Start.Type = shardlog.TrimHorizon
	ds, err := shardconn.NewDecodingSource(l, opts, decode)
	if err != nil {
		return nil, fmt.Errorf("table '%s': %w", t.Name, err)
	}
	s := shardconn.SourceOfDecoded(j, ip.op(t.Name), ds, engine.NoWatermarks[*row.Row]())
	ef := o.res.errorFile(edir)
	bad := engine.SideOutput(s, shardconn.DecodeErrors)
	engine.ForEach(bad, ip.op(t.Name+"-errors"), func(e shardconn.DecodeError) error {
		return ef.write(errorLine(t.Name, e))
	})
	rows := engine.FlatMap(s, ip.op(t.Name+"-skip"), func(r *row.Row, emit func(*row.Row)) {
		if r != nil {
			emit(r)
		}
	})
	enc := row.NewKeyEncoder(layout, keyIdx)
	ks := engine.KeyBy(rows, func(r *row.Row) string { return enc.Key(r) })
	return engine.KeyedProcess[*row.Row, string, *row.Row](ks, ip.op(t.Name+"-normalize"), &changelogNormalize{layout: layout}), nil
}

// changelogNormalize is Flink's ChangelogNormalize: per key the last
// value in keyed state; an upsert of a new key is +I, of a changed
// value -U old, +U new, of the same value nothing; a tombstone of a
// known key -D its last value (of an unknown one, nothing).
type changelogNormalize struct {
	layout *row.Layout

	codec row.Codec
	last  *state.ValueState[*row.Row]
}

func (n *changelogNormalize) Open(rc *engine.RuntimeContext) error {
	b, err := rc.KeyedState()
	if err != nil {
		return err
	}
	n.codec = row.NewCodec(n.layout)
	n.last, err = state.NewValueState[*row.Row](b, "normalize-last", n.codec)
	return err
}

func (n *changelogNormalize) ProcessElement(r *row.Row, ctx *engine.KeyedContext[string, *row.Row]) error {
	prev, had, err := n.last.Value()
	if err != nil {
		return err
	}
	if r.Kind == row.Delete {
		if !had {
			return nil
		}
		d := prev.Clone()
		d.Kind = row.Delete
		ctx.Emit(d)
		return n.last.Clear()
	}
	r.Kind = row.Insert
	if had {
		if bytes.Equal(n.codec.Append(nil, prev)[2:], n.codec.Append(nil, r)[2:]) {
			return nil
		}
		b := prev.Clone()
		b.Kind = row.UpdateBefore
		ctx.Emit(b)
	}
	keep := r.Clone()
	keep.Kind = row.Insert
	if had {
		r.Kind = row.UpdateAfter
	}
	ctx.Emit(r)
	return n.last.Update(keep)
}
