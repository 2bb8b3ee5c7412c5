package aggregate

import (
	"context"
	"strings"
	"testing"

	"github.com/journeys-analytics/journeys/internal/testenv"
)

// TestRetention sets, keeps, changes and removes the TTL of raw events, and
// checks that expired events go while the aggregates fed from them stay.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	ch := testenv.ClickHouse(t)
	s := openStoreAt(t, "native", ch.Addr, ch.Database)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// One event from long ago, one from now; the views aggregate both.
	if err := s.conn.Exec(ctx, "INSERT INTO "+s.table("events")+
		" (event_id, customer_id, ts) VALUES ('old', 'c-old', '2020-01-01 00:00:00'), ('new', 'c-new', now64(3))"); err != nil {
		t.Fatal(err)
	}
	ttl := func() string {
		return queryString(t, s, "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = 'events'", namedDB(s))
	}
	mutations := func() string {
		return queryString(t, s, "SELECT toString(count()) FROM system.mutations WHERE database = {db:String} AND table = 'events'", namedDB(s))
	}

	s.cfg.EventsTTLDays = 30
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ttl(), "TTL toDateTime(ts) + toIntervalDay(30)") {
		t.Fatalf("events has no 30-day TTL: %s", ttl())
	}
	before := mutations()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if after := mutations(); after != before {
		t.Errorf("an unchanged retention altered the table again (mutations %s → %s)", before, after)
	}
	// TTL deletes on merge; force one.
	if err := s.conn.Exec(ctx, "OPTIMIZE TABLE "+s.table("events")+" FINAL"); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, s, "SELECT arrayStringConcat(groupArray(event_id), ',') FROM "+s.table("events")); got != "new" {
		t.Errorf("events after TTL = %q, want only the recent one", got)
	}
	if got := queryString(t, s, "SELECT arrayStringConcat(arraySort(groupArray(customer_id)), ',') FROM (SELECT customer_id FROM "+
		s.table("customers")+" GROUP BY customer_id)"); got != "c-new,c-old" {
		t.Errorf("customers after TTL = %q, want both kept", got)
	}

	s.cfg.EventsTTLDays = 0
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ttl(), "TTL") {
		t.Errorf("retention 0 left a TTL: %s", ttl())
	}
}
