package aggregate

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/journeys-analytics/journeys/schemas"
)

// TestEventColumnsAreLent: with the pinned driver, an events insert over
// the native protocol takes the lending path. If a driver upgrade changes
// how its columns keep their data, inserts still work (the public path), but
// they are several times dearer; this test is what says so.
func TestEventColumnsAreLent(t *testing.T) {
	s := migratedStore(t, "native")
	ctx := s.eventsInsertContext(context.Background(), "test/lent")
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.table("events")+" ("+eventColumnList+")")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Abort() }()
	var cols eventColumns
	cols.fill(everyFieldBatch(0, 3).Rows)
	dst := b.Columns()
	var loans []loan
	for i, col := range cols.list() {
		l, ok := lend(dst[i], col)
		if !ok {
			t.Fatalf("events column %d (driver column %T) cannot be lent", i, dst[i])
		}
		l.take()
		loans = append(loans, l)
	}
	for i, c := range dst {
		if n := c.Rows(); n != 3 {
			t.Errorf("driver column %d (%T) has %d rows while lent, want 3", i, c, n)
		}
	}
	for _, l := range loans {
		l.give()
	}
	for i, c := range dst {
		if n := c.Rows(); n != 0 {
			t.Errorf("driver column %d (%T) has %d rows after the loan, want 0", i, c, n)
		}
	}
}

// TestWriteStoresEveryField reads back every column of events, over both
// protocols and both ways of handing columns to the driver, and compares it
// with the rows written.
func TestWriteStoresEveryField(t *testing.T) {
	for _, protocol := range []string{"native", "http"} {
		for _, noLend := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/noLend=%v", protocol, noLend), func(t *testing.T) {
				ctx := context.Background()
				s := migratedStore(t, protocol)
				if noLend {
					s.columns <- &eventColumns{noLend: true}
				}
				// Two batches through the same columns: the second must not
				// see anything of the first.
				for p, n := range []int{7, 3} {
					b := everyFieldBatch(int32(p), n)
					if err := s.Write(ctx, b); err != nil {
						t.Fatal(err)
					}
					assertStoredRows(t, s, b)
				}
			})
		}
	}
}

// everyFieldBatch has n rows on partition p in which every field differs
// from row to row, with empty strings, an absent sent_at, absent properties
// and non-ASCII text among them.
func everyFieldBatch(p int32, n int) *Batch {
	base := time.Date(2025, 6, 30, 23, 59, 59, 999_000_000, time.UTC)
	b := &Batch{Topic: topic, Partition: p, First: 100, Last: 100 + int64(2*n)}
	for i := range n {
		at := base.Add(time.Duration(i) * 1001 * time.Millisecond)
		v := func(name string) string { return fmt.Sprintf("%s-%d-%d", name, p, i) }
		e := schemas.Enriched{
			Event: schemas.Event{
				EventID: v("id"), Type: []string{"track", "page", "identify"}[i%3], Event: v("ev"),
				UserID: v("user"), AnonymousID: v("anon"),
				Timestamp: at, OriginalTimestamp: at.Add(-time.Hour), SentAt: at.Add(-time.Second),
				ReceivedAt:    at.Add(time.Second),
				RawProperties: fmt.Appendf(nil, `{"n":%d,"s":"ünïcode\t%d"}`, i, p),
				RawTraits:     fmt.Appendf(nil, `{"plan":"p%d"}`, i),
				Context: schemas.Context{
					Channel:  v("ch"),
					Campaign: schemas.Campaign{Name: v("cn"), Source: v("cs"), Medium: v("cm"), Term: v("ct"), Content: v("cc")},
					Page:     schemas.Page{Path: v("/path"), URL: v("https://x/"), Title: v("Tïtle")},
					Referrer: v("ref"),
					Device:   schemas.Device{Type: v("dt"), OS: v("os"), Manufacturer: v("dm")},
					Locale:   v("loc"),
				},
			},
			Source:     schemas.Source{Topic: topic, Partition: p, Offset: 100 + int64(2*i)},
			CustomerID: v("cust"), Journey: v("j"), Stage: v("st"), StageIndex: uint8(i + 1),
			Touchpoint: v("tp"), Negative: i%2 == 1, Persona: v("pe"), MapVersion: v("map"),
		}
		if i == 1 {
			e.SentAt, e.RawProperties, e.RawTraits, e.UserID, e.Context = time.Time{}, nil, nil, "", schemas.Context{}
		}
		b.Rows = append(b.Rows, e)
	}
	return b
}

// assertStoredRows compares the events rows of b's partition, column by
// column, with b's rows.
func assertStoredRows(t *testing.T, s *Store, b *Batch) {
	t.Helper()
	rows, err := s.conn.Query(context.Background(), "SELECT "+eventColumnList+" FROM "+s.table("events")+
		" WHERE kafka_partition = {p:Int32} ORDER BY kafka_offset", clickhouse.Named("p", b.Partition))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names := strings.Split(eventColumnList, ", ")
	n := 0
	for ; rows.Next(); n++ {
		got := make([]any, len(names))
		for i, ct := range rows.ColumnTypes() {
			got[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(got...); err != nil {
			t.Fatal(err)
		}
		if n >= len(b.Rows) {
			continue
		}
		for i, want := range storedValues(&b.Rows[n]) {
			g := reflect.ValueOf(got[i]).Elem().Interface()
			if gt, ok := g.(time.Time); ok {
				if !gt.Equal(want.(time.Time)) {
					t.Errorf("row %d %s = %v, want %v", n, names[i], gt, want)
				}
				continue
			}
			if g != want {
				t.Errorf("row %d %s = %#v, want %#v", n, names[i], g, want)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(b.Rows) {
		t.Fatalf("%d rows stored on partition %d, want %d", n, b.Partition, len(b.Rows))
	}
}

// storedValues is what events must hold for r, in eventColumnList order,
// written out field by field rather than derived from fill.
func storedValues(r *schemas.Enriched) []any {
	obj := func(b []byte) string {
		if len(b) == 0 {
			return "{}"
		}
		return string(b)
	}
	c := &r.Context
	return []any{
		r.EventID, r.Type, r.Event.Event, r.CustomerID, r.UserID, r.AnonymousID,
		storedTime(r.Timestamp), storedTime(r.OriginalTimestamp), storedTime(r.SentAt), storedTime(r.ReceivedAt),
		r.Journey, r.Stage, r.Touchpoint, r.Persona, r.MapVersion, schemas.Version,
		r.StageIndex, r.Negative,
		c.Channel, c.Campaign.Source, c.Campaign.Medium, c.Device.Type, c.Device.OS, c.Device.Manufacturer, c.Locale,
		c.Campaign.Name, c.Campaign.Term, c.Campaign.Content, c.Page.Path, c.Page.URL, c.Page.Title, c.Referrer,
		obj(r.RawProperties), obj(r.RawTraits),
		r.Topic, r.Partition, r.Offset,
	}
}
