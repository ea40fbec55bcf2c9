package consumer

import (
	"log/slog"

	"github.com/sluicehq/sluice/connectors/kpl"
)

// The default de-aggregation (without Config.Transform, unless
// Config.KeepAggregates): a record in the KPL's aggregated format becomes
// its user records (the aggregate's sequence number, their sub-sequence
// numbers, partition and explicit hash keys); any other record passes as
// it is, and a batch with no aggregate is delivered as read. A corrupt
// aggregate (bad MD5, unreadable body) is delivered whole, as one record,
// and logged — never dropped.

func anyAggregated(in []Record) bool {
	for i := range in {
		if kpl.IsAggregated(in[i].Data) {
			return true
		}
	}
	return false
}

func appendUserRecords(dst []Record, r Record, log *slog.Logger) []Record {
	if !kpl.IsAggregated(r.Data) {
		return append(dst, r)
	}
	users, err := kpl.Deaggregate(r.PartitionKey, r.ExplicitHashKey, r.Data)
	if err != nil {
		log.Warn("consumer: a corrupt KPL aggregate is delivered whole", "sequence_number", r.SequenceNumber, "error", err)
	}
	for _, u := range users {
		out := r
		out.PartitionKey, out.ExplicitHashKey, out.Data = u.PartitionKey, u.ExplicitHashKey, u.Data
		out.SubSequenceNumber, out.Aggregated = int64(u.SubSequenceNumber), u.Aggregated
		dst = append(dst, out)
	}
	return dst
}
