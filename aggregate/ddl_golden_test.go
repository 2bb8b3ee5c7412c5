package aggregate

import (
	"context"
	"flag"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/journeys-analytics/journeys/internal/testenv"
	"github.com/journeys-analytics/journeys/schemas"
)

var update = flag.Bool("update", false, "rewrite testdata/ddl/**/*.golden from the current output")

// ddlModes are the renderings pinned by golden files: the default single
// server, and a cluster.
var ddlModes = []struct{ dir, cluster string }{
	{"single", ""},
	{"cluster", "analytics"},
}

// bootstrapName is the golden file of the statements Migrate runs before the
// migration files.
const bootstrapName = "0000_bootstrap.sql"

// renderAll renders the bootstrap statements and every embedded migration,
// in order, as Migrate does, keyed by golden file name.
func renderAll(t *testing.T, cluster string) map[string][]string {
	t.Helper()
	sub, err := fs.Sub(schemas.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(sub)
	if err != nil {
		t.Fatal(err)
	}
	r := newRenderer("journeys", cluster, 10000)
	out := map[string][]string{}
	for _, text := range []string{createDatabaseDDL, schemaMigrationsDDL} {
		stmts, err := r.statements(bootstrapName, text)
		if err != nil {
			t.Fatal(err)
		}
		out[bootstrapName] = append(out[bootstrapName], stmts...)
	}
	for _, m := range ms {
		stmts, err := r.statements(m.name, m.text)
		if err != nil {
			t.Fatal(err)
		}
		out[m.name] = stmts
	}
	return out
}

// TestDDLGolden pins the DDL every migration renders to, in single-server and
// cluster mode, one golden file per migration file so that new migrations
// are covered as soon as they exist (the test fails until `go test
// ./aggregate -run TestDDLGolden -update` writes their golden files, which
// a reviewer then reads).
func TestDDLGolden(t *testing.T) {
	for _, mode := range ddlModes {
		t.Run(mode.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", "ddl", mode.dir)
			rendered := renderAll(t, mode.cluster)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for name, stmts := range rendered {
				text := strings.Join(stmts, ";\n\n") + ";\n"
				file := filepath.Join(dir, name+".golden")
				if *update {
					if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Errorf("%s: %v (run with -update to create it)", name, err)
					continue
				}
				if string(want) != text {
					t.Errorf("%s renders differently from %s (run with -update if intended):\n%s", name, file, text)
				}
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.golden"))
			for _, f := range files {
				if _, ok := rendered[strings.TrimSuffix(filepath.Base(f), ".golden")]; !ok {
					t.Errorf("%s has no migration file any more (run with -update to remove it)", f)
				}
			}
		})
	}
}

// TestClusterDDL checks properties of the cluster rendering that the golden
// files could silently lose on -update.
func TestClusterDDL(t *testing.T) {
	single, cluster := renderAll(t, ""), renderAll(t, "analytics")
	for _, name := range slices.Sorted(maps.Keys(single)) {
		for _, stmt := range single[name] {
			if strings.Contains(stmt, "ON CLUSTER") || strings.Contains(stmt, "Replicated") || strings.Contains(stmt, "_local") {
				t.Errorf("%s: single-server DDL mentions the cluster:\n%s", name, stmt)
			}
		}
		for _, stmt := range cluster[name] {
			if strings.HasPrefix(strings.TrimSpace(stripComments(stmt)), "CREATE") && !strings.Contains(stmt, "ON CLUSTER `analytics`") {
				t.Errorf("%s: cluster DDL not ON CLUSTER:\n%s", name, stmt)
			}
			if strings.Contains(stmt, "ENGINE = AggregatingMergeTree") || strings.Contains(stmt, "ENGINE = MergeTree") ||
				strings.Contains(stmt, "ENGINE = ReplacingMergeTree") {
				t.Errorf("%s: cluster DDL has a non-replicated engine:\n%s", name, stmt)
			}
		}
	}
	events := strings.Join(cluster["0001_events.sql"], "\n")
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS `journeys`.events_local ON CLUSTER `analytics`",
		"ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')",
		"ENGINE = Distributed('analytics', 'journeys', 'events_local', cityHash64(customer_id))",
	} {
		if !strings.Contains(events, want) {
			t.Errorf("0001_events.sql in cluster mode lacks %q:\n%s", want, events)
		}
	}
	mv := strings.Join(cluster["0006_customer_stages_mv.sql"], "\n")
	if !strings.Contains(mv, "TO `journeys`.customer_stages_local") || !strings.Contains(mv, "FROM `journeys`.events_local") {
		t.Errorf("customer_stages_mv does not connect the local tables:\n%s", mv)
	}
}

func stripComments(stmt string) string {
	var b strings.Builder
	for line := range strings.Lines(stmt) {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestClusterDDLParses has the real server parse every cluster statement
// (formatQuery parses without executing: the test server is no cluster), so
// that a rewrite cannot produce SQL ClickHouse would reject.
func TestClusterDDLParses(t *testing.T) {
	ch := testenv.ClickHouse(t)
	s := openStoreAt(t, "native", ch.Addr, ch.Database)
	for name, stmts := range renderAll(t, "analytics") {
		for _, stmt := range stmts {
			var formatted string
			if err := s.conn.QueryRow(context.Background(), "SELECT formatQuery({q:String})",
				clickhouse.Named("q", stmt)).Scan(&formatted); err != nil {
				t.Errorf("%s: ClickHouse cannot parse:\n%s\n%v", name, stmt, err)
			}
		}
	}
}
