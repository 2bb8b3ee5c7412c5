package aggregate

import "context"

// EventCounts returns the rows of the events table and their distinct event
// ids: the two are equal when nothing was stored twice.
func (s *Store) EventCounts(ctx context.Context) (rows, distinct uint64, err error) {
	err = s.query(ctx, "event counts", `SELECT count(), uniqExact(event_id) FROM `+s.table("events"), nil, func(r scanner) error {
		return r.Scan(&rows, &distinct)
	})
	return rows, distinct, err
}
