package aggregate

import (
	"context"
	"fmt"
	"regexp"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// eventsTTL matches the TTL clause ClickHouse keeps in engine_full for the
// expression applyRetention sets.
var eventsTTL = regexp.MustCompile(`TTL toDateTime\(ts\) \+ toIntervalDay\((\d+)\)`)

// applyRetention makes the TTL of the events table match
// Config.EventsTTLDays. It changes the table only when the setting changed:
// MODIFY TTL rewrites every part of the table (materialize_ttl_after_modify),
// which must not happen on every start of every collector. Aggregate tables
// are fed by materialized views at insert time, so dropping old events does
// not change them.
func (s *Store) applyRetention(ctx context.Context, r *renderer) error {
	table := "events"
	if s.cfg.Cluster != "" {
		table += localSuffix
	}
	var engine string
	if err := s.conn.QueryRow(ctx, "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
		clickhouse.Named("db", s.cfg.Database), clickhouse.Named("t", table)).Scan(&engine); err != nil {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return fmt.Errorf("aggregate: read TTL of %s: %w", table, err)
	}
	current := 0
	if m := eventsTTL.FindStringSubmatch(engine); m != nil {
		_, _ = fmt.Sscan(m[1], &current)
	}
	want := s.cfg.EventsTTLDays
	// A TTL of another form was set by hand; with retention off, it is the
	// operator's and stays.
	if current == want {
		return nil
	}
	var text string
	if want == 0 {
		text = "ALTER TABLE {{.Database}}.events {{.OnCluster}} REMOVE TTL"
	} else {
		text = fmt.Sprintf("ALTER TABLE {{.Database}}.events {{.OnCluster}} MODIFY TTL toDateTime(ts) + toIntervalDay(%d)", want)
	}
	stmts, err := r.statements("events retention", text)
	if err != nil {
		return err
	}
	for _, stmt := range stmts {
		if err := s.exec(ctx, "events retention", stmt); err != nil {
			return err
		}
	}
	s.log.Info("events retention changed", "from_days", current, "to_days", want)
	return nil
}
