package deploy

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/journeys-analytics/journeys/internal/testenv"
)

// TestClickHouseUsersParse has ClickHouse parse every statement of the
// documented least-privilege DDL (formatQuery parses without executing): the
// chDB test server has no SQL user management, so CREATE USER cannot run
// there. TestGrants enforces the GRANTs themselves through a users file.
func TestClickHouseUsersParse(t *testing.T) {
	b, err := os.ReadFile("clickhouse/users.sql")
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	var cur strings.Builder
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			stmts = append(stmts, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		t.Errorf("statement without a final semicolon: %q", cur.String())
	}
	if len(stmts) < 7 {
		t.Fatalf("%d statements, want the database, 3 users and their grants", len(stmts))
	}
	ch := testenv.ClickHouse(t)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range stmts {
		var out string
		if err := conn.QueryRow(context.Background(), "SELECT formatQuery({q:String})", clickhouse.Named("q", s)).Scan(&out); err != nil {
			t.Errorf("ClickHouse cannot parse:\n%s\n%v", s, err)
		}
	}
	for _, forbidden := range []string{"ALL ON", "DROP", "SYSTEM", "ON *.*"} {
		for _, s := range stmts {
			if strings.HasPrefix(s, "GRANT") && strings.Contains(s, forbidden) {
				t.Errorf("grant broader than needed (%s): %s", forbidden, s)
			}
		}
	}
}
