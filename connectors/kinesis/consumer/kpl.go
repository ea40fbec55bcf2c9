package consumer

import (
	"log/slog"

	"github.com/sluicehq/sluice/connectors/kpl"
)

// deaggregate is the default Transform: a record in the KPL's aggregated
// format becomes its user records (the aggregate's sequence number, their
// sub-sequence numbers, partition and explicit hash keys); any other
// record passes as it is. A corrupt aggregate (bad MD5, unreadable body)
// is delivered whole, as one record, and logged — never dropped.
func deaggregate(log *slog.Logger) func(Record) ([]Record, error) {
	return func(r Record) ([]Record, error) {
		if !kpl.IsAggregated(r.Data) {
			return []Record{r}, nil
		}
		users, err := kpl.Deaggregate(r.PartitionKey, r.ExplicitHashKey, r.Data)
		if err != nil {
			log.Warn("consumer: a corrupt KPL aggregate is delivered whole", "sequence_number", r.SequenceNumber, "error", err)
		}
		out := make([]Record, len(users))
		for i, u := range users {
			out[i] = r
			out[i].PartitionKey, out[i].ExplicitHashKey, out[i].Data = u.PartitionKey, u.ExplicitHashKey, u.Data
			out[i].SubSequenceNumber, out[i].Aggregated = int64(u.SubSequenceNumber), u.Aggregated
		}
		return out, nil
	}
}
