package aggregate

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"text/template"
)

// Cluster mode. With Config.Cluster set, the same migration files render for
// a sharded, replicated ClickHouse cluster, and every query of this package
// keeps working unchanged:
//
//   - a MergeTree-family table T becomes T_local, Replicated*MergeTree with
//     the usual macros, created ON CLUSTER on every node, plus T, a
//     Distributed table over T_local. Reads and inserts name T, as in
//     single-node mode; a table with a customer_id column is sharded by
//     cityHash64(customer_id), so each customer's events and aggregates live
//     on one shard and per-customer state (funnels, churn) is complete there.
//     Other tables (batch log, migration log) are sharded by rand().
//   - a materialized view reads and writes the local tables of its shard, so
//     each insert that lands on a shard updates that shard's aggregates; the
//     Distributed tables merge the partial aggregates at read time, as the
//     views already do with unmerged parts.
//   - ALTER TABLE T applies to T_local, and also to T when it changes
//     columns, so the Distributed table keeps the same structure.
//   - views, the database and everything else are created ON CLUSTER as
//     written.
//
// The rewrite is done on the rendered SQL rather than in the migration
// files so that the files, and their checksums recorded by deployments that
// already applied them, stay as they are; the golden files in testdata pin
// what every migration renders to in both modes.

// replicaPath is the ZooKeeper/Keeper path of a replicated table: one per
// shard and table, with the macros every replicated ClickHouse cluster
// defines. Database and table are macros too, so the path follows the
// table, not the text of this program.
const replicaPath = `'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'`

const localSuffix = "_local"

// renderer renders migration templates for one database, in single-node or
// cluster mode. In cluster mode it must see the migrations in order: it
// remembers which tables are sharded so that later views and ALTERs refer to
// their local tables.
type renderer struct {
	db          string // quoted identifier
	dbName      string // unquoted, for Distributed's arguments
	cluster     string // "" in single-node mode
	dedupWindow int
	sharded     map[string]bool
}

func newRenderer(dbName, cluster string, dedupWindow int) *renderer {
	return &renderer{db: quoteIdent(dbName), dbName: dbName, cluster: cluster, dedupWindow: dedupWindow, sharded: map[string]bool{}}
}

// statements renders one template to the statements to execute, in order.
func (r *renderer) statements(name, text string) ([]string, error) {
	replicated := false
	data := templateData{Database: r.db, DedupWindow: r.dedupWindow}
	if r.cluster != "" {
		data.OnCluster = "ON CLUSTER " + quoteIdent(r.cluster)
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{
		"engine": func(engine string, args ...string) string {
			if r.cluster == "" {
				return engine + "(" + strings.Join(args, ", ") + ")"
			}
			replicated = true
			return "Replicated" + engine + "(" + strings.Join(append([]string{replicaPath}, args...), ", ") + ")"
		},
	}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("aggregate: migration %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("aggregate: migration %s: %w", name, err)
	}
	stmt := b.String()
	if r.cluster == "" {
		return []string{stmt}, nil
	}
	return r.clusterize(stmt, replicated), nil
}

var (
	createTable  = regexp.MustCompile(`(?m)^(CREATE TABLE IF NOT EXISTS \S+\.)(\w+)(\s+ON CLUSTER)`)
	createMV     = regexp.MustCompile(`(?m)^CREATE MATERIALIZED VIEW\b`)
	alterTable   = regexp.MustCompile(`(?m)^(ALTER TABLE \S+\.)(\w+)(\s+ON CLUSTER)`)
	alterColumns = regexp.MustCompile(`(?i)\b(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b`)
	customerCol  = regexp.MustCompile(`(?m)^\s*customer_id\s`)
)

func (r *renderer) clusterize(stmt string, replicated bool) []string {
	if m := createTable.FindStringSubmatchIndex(stmt); m != nil && replicated {
		name := stmt[m[4]:m[5]]
		local := stmt[:m[5]] + localSuffix + stmt[m[5]:]
		// A replicated table deduplicates with the replicated window; the
		// non-replicated one the file sets would be ignored.
		local = strings.ReplaceAll(local, "non_replicated_deduplication_window", "replicated_deduplication_window")
		r.sharded[name] = true
		key := "rand()"
		if customerCol.MatchString(stmt) {
			key = "cityHash64(customer_id)"
		}
		dist := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s\nENGINE = Distributed(%s, %s, %s, %s)",
			r.db, name, quoteIdent(r.cluster), r.db, name+localSuffix,
			quoteString(r.cluster), quoteString(r.dbName), quoteString(name+localSuffix), key)
		return []string{local, dist}
	}
	if createMV.MatchString(stmt) {
		return []string{r.localRefs(stmt)}
	}
	if m := alterTable.FindStringSubmatchIndex(stmt); m != nil && r.sharded[stmt[m[4]:m[5]]] {
		local := stmt[:m[5]] + localSuffix + stmt[m[5]:]
		if alterColumns.MatchString(stmt) {
			return []string{local, stmt}
		}
		return []string{local}
	}
	return []string{stmt}
}

// localRefs points a materialized view's target (TO) and sources (FROM,
// JOIN) at the local tables of sharded tables.
func (r *renderer) localRefs(stmt string) string {
	ref := regexp.MustCompile(`\b(TO|FROM|JOIN)(\s+)` + regexp.QuoteMeta(r.db) + `\.(\w+)\b`)
	return ref.ReplaceAllStringFunc(stmt, func(s string) string {
		m := ref.FindStringSubmatch(s)
		if !r.sharded[m[3]] {
			return s
		}
		return m[1] + m[2] + r.db + "." + m[3] + localSuffix
	})
}

func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
