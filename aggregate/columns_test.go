package aggregate

import (
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// TestReserveLeavesColumnsEmpty: reserve must size a driver column without
// leaving a row in it, and the values appended afterwards must be exactly
// the ones given, for every column type of the events table.
func TestReserveLeavesColumnsEmpty(t *testing.T) {
	long := strings.Repeat("x", 40<<10) // past reserveBytes' threshold
	ts := time.Date(2025, 3, 1, 12, 0, 0, 123_000_000, time.UTC)
	for _, tc := range []struct {
		typ    column.Type
		values any
		row    func(i int) any
	}{
		{"String", []string{"a", long, ""}, func(i int) any { return []string{"a", long, ""}[i] }},
		{"DateTime64(3, 'UTC')", []time.Time{ts, ts.Add(time.Second)}, func(i int) any { return ts.Add(time.Duration(i) * time.Second) }},
		{"Bool", []bool{true, false, true}, func(i int) any { return i != 1 }},
		{"UInt8", []uint8{1, 2, 3}, func(i int) any { return uint8(i + 1) }},
		{"Int32", []int32{-1, 7}, func(i int) any { return []int32{-1, 7}[i] }},
		{"Int64", []int64{1 << 40, -5}, func(i int) any { return []int64{1 << 40, -5}[i] }},
	} {
		t.Run(string(tc.typ), func(t *testing.T) {
			col, err := tc.typ.Column("c", &column.ServerContext{})
			if err != nil {
				t.Fatal(err)
			}
			var c eventColumns
			c.reserve(col, tc.values, rowsOf(tc.values))
			if n := col.Rows(); n != 0 {
				t.Fatalf("after reserve: %d rows, want 0", n)
			}
			if _, err := col.Append(tc.values); err != nil {
				t.Fatal(err)
			}
			for i := range col.Rows() {
				got := col.Row(i, false)
				if tt, ok := got.(time.Time); ok {
					got = tt.UTC()
				}
				if want := tc.row(i); got != want {
					t.Errorf("row %d = %v, want %v", i, got, want)
				}
			}
			if n, want := col.Rows(), rowsOf(tc.values); n != want {
				t.Fatalf("%d rows after append, want %d", n, want)
			}
		})
	}
}

func rowsOf(v any) int {
	switch v := v.(type) {
	case []string:
		return len(v)
	case []time.Time:
		return len(v)
	case []bool:
		return len(v)
	case []uint8:
		return len(v)
	case []int32:
		return len(v)
	case []int64:
		return len(v)
	}
	return -1
}
