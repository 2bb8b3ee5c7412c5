package aggregate

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/journeys-analytics/journeys/internal/testenv"
	"github.com/journeys-analytics/journeys/schemas"
)

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	// A database that does not exist yet: Open must not create it, Migrate
	// must.
	ch := testenv.ClickHouse(t)
	s := openStoreAt(t, "native", ch.Addr, ch.Database+"_new")
	t.Cleanup(func() { _ = s.conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+s.db+" SYNC") })
	if got := queryString(t, s, "SELECT toString(count()) FROM system.databases WHERE name = {db:String}",
		namedDB(s)); got != "0" {
		t.Fatalf("Open created the database")
	}

	files, err := fs.Glob(schemas.Migrations, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded migrations: %v", err)
	}
	var want []string
	for _, f := range files {
		// The *_analyst_* migrations are off unless Config.AnalystRole.
		if !strings.Contains(f, "_analyst_") {
			want = append(want, strings.TrimPrefix(f, "migrations/"))
		}
	}

	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if !slices.Equal(applied, want) {
		t.Fatalf("first Migrate applied %v, want %v", applied, want)
	}
	applied, err = s.Migrate(ctx)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(applied) != 0 {
		t.Fatalf("second Migrate applied %v, want nothing", applied)
	}

	// Every file is recorded once, with the checksum of its text.
	sub, _ := fs.Sub(schemas.Migrations, "migrations")
	ms, err := loadMigrations(sub)
	if err != nil {
		t.Fatal(err)
	}
	var wantRecords []string
	for _, m := range ms {
		if !strings.Contains(m.name, "_analyst_") {
			wantRecords = append(wantRecords, strings.Join([]string{itoa(m.version), m.name, m.checksum}, " "))
		}
	}
	got := queryString(t, s, "SELECT concat(toString(version), ' ', name, ' ', checksum) FROM "+
		s.table("schema_migrations")+" ORDER BY version")
	if got != strings.Join(wantRecords, "\n") {
		t.Fatalf("schema_migrations:\n%s\nwant:\n%s", got, strings.Join(wantRecords, "\n"))
	}

	// Every MergeTree-family table keeps a deduplication window, which Write's
	// exactly-once guarantee relies on.
	missing := queryString(t, s, `SELECT name FROM system.tables
WHERE database = {db:String} AND engine LIKE '%MergeTree'
  AND create_table_query NOT LIKE '%non_replicated_deduplication_window = 1000%'`, namedDB(s))
	if missing != "" {
		t.Fatalf("tables without a deduplication window: %s", missing)
	}

	t.Run("changed checksum", func(t *testing.T) {
		changed := mapFS(t, sub)
		name := ms[2].name
		changed[name].Data = append(changed[name].Data, []byte("\n-- edited\n")...)
		_, err := s.migrate(ctx, changed)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("migrate with edited %s: err = %v, want an error naming it", name, err)
		}
	})
	t.Run("new migration", func(t *testing.T) {
		more := mapFS(t, sub)
		more["9999_probe.sql"] = &fstest.MapFile{Data: []byte(
			"CREATE VIEW IF NOT EXISTS {{.Database}}.probe {{.OnCluster}} AS SELECT count() AS n FROM {{.Database}}.events")}
		applied, err := s.migrate(ctx, more)
		if err != nil || !slices.Equal(applied, []string{"9999_probe.sql"}) {
			t.Fatalf("applied %v, %v; want only 9999_probe.sql", applied, err)
		}
	})
	t.Run("bad names", func(t *testing.T) {
		for _, name := range []string{"1_x.sql", "0001-x.sql", "0001_X.sql"} {
			if _, err := loadMigrations(fstest.MapFS{name: {Data: []byte("SELECT 1")}}); err == nil {
				t.Errorf("%s accepted", name)
			}
		}
		dup := fstest.MapFS{"0001_a.sql": {Data: []byte("SELECT 1")}, "0001_b.sql": {Data: []byte("SELECT 1")}}
		if _, err := loadMigrations(dup); err == nil {
			t.Errorf("two migrations 0001 accepted")
		}
	})
}

func TestMigrateHTTP(t *testing.T) {
	s := openStore(t, "http")
	applied, err := s.Migrate(context.Background())
	if err != nil || len(applied) == 0 {
		t.Fatalf("Migrate over HTTP: %v, %v", applied, err)
	}
}

func mapFS(t *testing.T, fsys fs.FS) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		out[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
