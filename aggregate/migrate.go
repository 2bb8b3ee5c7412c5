package aggregate

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/journeys-analytics/journeys/schemas"
)

// migration is one schemas/migrations file.
type migration struct {
	version  uint32
	name     string // file name, e.g. "0001_events.sql"
	text     string // template text
	checksum string // sha256 of text: of the file as written, not as rendered
}

// templateData is what a migration template sees. OnCluster and the engine
// function are the seams for cluster mode (see cluster.go): in single-node
// mode OnCluster is empty and engine returns the plain MergeTree-family
// engine.
type templateData struct {
	Database    string // quoted identifier
	DedupWindow int
	OnCluster   string // "" or "ON CLUSTER name"
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

const createDatabaseDDL = "CREATE DATABASE IF NOT EXISTS {{.Database}} {{.OnCluster}}"

// schemaMigrationsDDL is not a migration file because applying the files
// needs it first.
const schemaMigrationsDDL = `CREATE TABLE IF NOT EXISTS {{.Database}}.schema_migrations {{.OnCluster}}
(
    version    UInt32,        -- NNNN of the file
    name       String,        -- file name
    checksum   String,        -- sha256 of the file's template text
    applied_at DateTime64(3)
)
ENGINE = {{engine "MergeTree"}}
ORDER BY version
SETTINGS non_replicated_deduplication_window = {{.DedupWindow}}`

// Migrate creates the database if it is missing and applies, in order, the
// embedded migrations not recorded in schema_migrations yet. It returns the
// file names it applied. A recorded migration whose file has changed since is
// an error naming the file, and nothing is applied: the tables would not be
// what the code expects.
//
// Running Migrate from several processes at once is safe: every statement is
// idempotent and the records of one migration deduplicate.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	sub, err := fs.Sub(schemas.Migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("aggregate: migrations: %w", err)
	}
	return s.migrate(ctx, sub)
}

// PendingMigrations returns the embedded migrations that schema_migrations
// does not record, in order: empty when the database is what this build
// expects. It is the readiness check that a replica started before a newer
// one's migrations, or against an unmigrated database, can report.
func (s *Store) PendingMigrations(ctx context.Context) ([]string, error) {
	sub, err := fs.Sub(schemas.Migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("aggregate: migrations: %w", err)
	}
	ms, err := loadMigrations(sub)
	if err != nil {
		return nil, err
	}
	recorded, err := s.recordedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	var pending []string
	for _, m := range ms {
		if _, ok := recorded[m.version]; !ok && !s.optionalOff(m.name) {
			pending = append(pending, m.name)
		}
	}
	return pending, nil
}

func (s *Store) migrate(ctx context.Context, fsys fs.FS) ([]string, error) {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	r := newRenderer(s.cfg.Database, s.cfg.Cluster, s.cfg.DedupWindow)

	// Look before creating: a user allowed to use an existing database may
	// not be allowed CREATE DATABASE, even with IF NOT EXISTS.
	var exists uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = {db:String}",
		clickhouse.Named("db", s.cfg.Database)).Scan(&exists); err != nil {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return nil, fmt.Errorf("aggregate: look up database %s: %w", s.cfg.Database, err)
	}
	if exists == 0 {
		if err := s.execAll(ctx, r, "create database", createDatabaseDDL); err != nil {
			return nil, err
		}
		s.log.Info("database created", "database", s.cfg.Database)
	}
	if err := s.execAll(ctx, r, "create schema_migrations", schemaMigrationsDDL); err != nil {
		return nil, err
	}
	recorded, err := s.recordedMigrations(ctx)
	if err != nil {
		return nil, err
	}

	// Check every record before applying anything, so that a changed file
	// stops the upgrade instead of leaving it half done.
	known := make(map[uint32]bool, len(ms))
	for _, m := range ms {
		known[m.version] = true
		if r, ok := recorded[m.version]; ok && r.checksum != m.checksum {
			return nil, fmt.Errorf("aggregate: migration %s was changed after it was applied "+
				"(applied as %s with checksum %s, file now has %s): add a new migration instead",
				m.name, r.name, r.checksum, m.checksum)
		}
	}
	for v, r := range recorded {
		if !known[v] {
			s.log.Warn("database has a migration this build does not know; is a newer version running?",
				"migration", r.name)
		}
	}

	// Every file is rendered, applied or not, so that in cluster mode the
	// renderer knows every sharded table the pending ones refer to.
	var applied []string
	for _, m := range ms {
		stmts, err := r.statements(m.name, m.text)
		if err != nil {
			return applied, err
		}
		if _, ok := recorded[m.version]; ok || s.optionalOff(m.name) {
			continue
		}
		for _, stmt := range stmts {
			if err := s.exec(ctx, "migration "+m.name, stmt); err != nil {
				return applied, err
			}
		}
		if err := s.recordMigration(ctx, m); err != nil {
			return applied, err
		}
		s.log.Info("migration applied", "migration", m.name)
		applied = append(applied, m.name)
	}
	return applied, s.applyRetention(ctx, r)
}

// optionalOff reports whether a migration belongs to an option that is off:
// the *_analyst_* files need Config.AnalystRole. Such a migration is neither
// applied nor recorded, so switching the option on later applies it.
func (s *Store) optionalOff(name string) bool {
	return strings.Contains(name, "_analyst_") && !s.cfg.AnalystRole
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("aggregate: migrations: %w", err)
	}
	var ms []migration
	seen := map[uint32]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		match := migrationName.FindStringSubmatch(e.Name())
		if match == nil {
			return nil, fmt.Errorf("aggregate: migration %s: name must be NNNN_name.sql", e.Name())
		}
		v, _ := strconv.ParseUint(match[1], 10, 32) // 4 digits always parse
		version := uint32(v)
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("aggregate: migrations %s and %s have the same number", other, e.Name())
		}
		seen[version] = e.Name()
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("aggregate: migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, migration{version: version, name: e.Name(), text: string(b), checksum: hex.EncodeToString(sum[:])})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	return ms, nil
}

// execAll renders a template that is not a migration file and executes its
// statements.
func (s *Store) execAll(ctx context.Context, r *renderer, what, text string) error {
	stmts, err := r.statements(what, text)
	if err != nil {
		return err
	}
	for _, stmt := range stmts {
		if err := s.exec(ctx, what, stmt); err != nil {
			return err
		}
	}
	return nil
}

type migrationRecord struct{ name, checksum string }

func (s *Store) recordedMigrations(ctx context.Context) (map[uint32]migrationRecord, error) {
	// Concurrent migrators may both record a migration when their inserts
	// fall outside the dedup window; the earliest record is the one that
	// counts.
	q := `SELECT version, argMin(name, applied_at), argMin(checksum, applied_at)
FROM ` + s.table("schema_migrations") + ` GROUP BY version`
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return nil, fmt.Errorf("aggregate: read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[uint32]migrationRecord{}
	for rows.Next() {
		var v uint32
		var r migrationRecord
		if err := rows.Scan(&v, &r.name, &r.checksum); err != nil {
			return nil, fmt.Errorf("aggregate: read schema_migrations: %w", err)
		}
		out[v] = r
	}
	if err := rows.Err(); err != nil {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return nil, fmt.Errorf("aggregate: read schema_migrations: %w", err)
	}
	return out, nil
}

func (s *Store) recordMigration(ctx context.Context, m migration) error {
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"insert_deduplicate":         1,
		"insert_deduplication_token": "migration/" + m.name + "/" + m.checksum,
		"async_insert":               0,
	}))
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.table("schema_migrations")+" (version, name, checksum, applied_at)")
	if err == nil {
		defer b.Close()
		err = b.Append(m.version, m.name, m.checksum, time.Now())
	}
	if err == nil {
		err = b.Send()
	}
	if err != nil {
		s.metrics.errors.WithLabelValues(opInsert).Inc()
		return fmt.Errorf("aggregate: record migration %s: %w", m.name, err)
	}
	return nil
}

func (s *Store) exec(ctx context.Context, what, stmt string) error {
	if err := s.conn.Exec(ctx, stmt); err != nil {
		s.metrics.errors.WithLabelValues(opQuery).Inc()
		return fmt.Errorf("aggregate: %s: %w", what, err)
	}
	return nil
}
