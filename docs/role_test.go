package docs

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/internal/localch"
)

// childEnv switches the test binary into a ClickHouse child process, so the
// role test can run a server of its own (with its own users file) without a
// journeys binary.
const childEnv = "JOURNEYS_DOCS_CLICKHOUSE_CHILD"

func TestMain(m *testing.M) {
	localch.ServeChildIfRequested(childEnv)
	os.Exit(m.Run())
}

const (
	roleDB          = "journeys"
	analystUser     = "analyst"
	analystPassword = "analyst-secret"
)

// analystGrant is the GRANT of 0039_analyst_grants.sql for roleDB, without
// its "TO journeys_analyst": the form a users file takes, so that the test
// enforces exactly the migration's list of views.
func analystGrant(t *testing.T) (grant string, views []string) {
	t.Helper()
	b, err := os.ReadFile("../schemas/migrations/0039_analyst_grants.sql")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	s := strings.NewReplacer("{{.Database}}", "`"+roleDB+"`", "{{.OnCluster}}", "").Replace(strings.Join(lines, "\n"))
	s = strings.TrimSpace(s)
	s, ok := strings.CutSuffix(s, "TO journeys_analyst")
	if !ok {
		t.Fatalf("0039_analyst_grants.sql does not end with TO journeys_analyst:\n%s", s)
	}
	for _, m := range regexp.MustCompile("SELECT ON `"+roleDB+"`\\.([a-z_]+)").FindAllStringSubmatch(s, -1) {
		views = append(views, m[1])
	}
	if len(views) == 0 {
		t.Fatalf("no views in the grant:\n%s", s)
	}
	return strings.TrimSpace(s), views
}

// usersXML defines the default user (allowed to manage access, for a server
// where SQL access control works) and, for a server where it does not, the
// analyst as a users-file user with the grant of 0039 and the settings of
// 0038.
func usersXML(grant string) string {
	return `<clickhouse>
  <profiles>
    <default/>
    <journeys_analyst_profile>
      <readonly>1</readonly>
      <max_execution_time>120</max_execution_time>
      <max_memory_usage>10000000000</max_memory_usage>
      <max_rows_to_read>10000000000</max_rows_to_read>
      <max_result_rows>1000000</max_result_rows>
      <result_overflow_mode>throw</result_overflow_mode>
      <constraints>
        <max_execution_time><min>1</min><max>600</max><changeable_in_readonly/></max_execution_time>
      </constraints>
    </journeys_analyst_profile>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
      <access_management>1</access_management>
    </default>
    <` + analystUser + `>
      <password>` + analystPassword + `</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>journeys_analyst_profile</profile>
      <quota>default</quota>
      <grants><query>` + strings.ReplaceAll(grant, "`", "") + `</query></grants>
    </` + analystUser + `>
  </users>
  <quotas><default/></quotas>
</clickhouse>
`
}

// TestAnalystRole migrates with clickhouse.analyst_role on, on a ClickHouse
// server of the test's own, and checks what an analyst can do: read every
// view of the grant and every cookbook example that reads only views, and
// nothing else — no table, no insert, no DDL, no settings beyond the
// constraint.
//
// Where SQL access control works, the analyst is a SQL user with the role
// the migrations created. The local chDB server has no writable access
// storage, so there CREATE ROLE fails (code 514) after the views were
// switched to SQL SECURITY DEFINER; the analyst is then the users-file user
// above, with the migration's own GRANT and the profile's settings.
func TestAnalystRole(t *testing.T) {
	libPath, err := localch.FindLib(filepath.Join("..", ".cache"))
	if err != nil {
		t.Fatalf("%v (run scripts/fetch-clickhouse.sh or set JOURNEYS_LIBCHDB)", err)
	}
	grant, views := analystGrant(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersXML(grant)), 0o644); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(childEnv, "1")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := localch.Start(ctx, localch.Options{Exe: exe, ExeArgs: []string{exe}, LibPath: libPath, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(stopCtx); err != nil {
			t.Errorf("stop clickhouse: %v", err)
		}
	}()

	store, err := aggregate.Open(ctx, aggregate.Config{Addrs: []string{srv.NativeAddr()}, Database: roleDB,
		DedupWindow: 100, AnalystRole: true}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, migrateErr := store.Migrate(ctx)
	user, password := analystUser, analystPassword
	switch {
	case migrateErr == nil:
		t.Log("SQL access control works on this server: using the migrations' role")
		user, password = "analyst_sql", "analyst-sql-secret"
		for _, q := range []string{
			"CREATE USER IF NOT EXISTS " + user + " IDENTIFIED BY '" + password + "' DEFAULT ROLE journeys_analyst",
			"GRANT journeys_analyst TO " + user,
		} {
			if code, body := run(t, srv.HTTPAddr(), "default", "", q, nil); code != http.StatusOK {
				t.Fatalf("%s: %s", q, body)
			}
		}
	case strings.Contains(migrateErr.Error(), "0037_analyst_role.sql") &&
		strings.Contains(migrateErr.Error(), "code: 514"): // ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND
		t.Logf("no SQL access control on this server (%v): using the users-file analyst with the migration's grant", migrateErr)
		// The migrations before the role must have switched every view of
		// the grant to run with its definer's rights.
		for _, v := range views {
			_, body := run(t, srv.HTTPAddr(), "default", "", "SHOW CREATE TABLE "+roleDB+"."+v, nil)
			if !strings.Contains(body, "SQL SECURITY DEFINER") {
				t.Errorf("view %s is not SQL SECURITY DEFINER:\n%s", v, body)
			}
		}
	default:
		t.Fatalf("Migrate with the analyst role: %v", migrateErr)
	}

	// Some data, so that reads return rows.
	evs := seed()
	b := &aggregate.Batch{Topic: topic, First: 0, Last: int64(len(evs) - 1)}
	for i, e := range evs {
		b.Rows = append(b.Rows, enriched(e, int64(i)))
	}
	if err := store.Write(ctx, b); err != nil {
		t.Fatal(err)
	}

	as := func(q string, params map[string]string) (int, string) {
		return run(t, srv.HTTPAddr(), user, password, q, params)
	}
	for _, v := range views {
		from := roleDB + "." + v
		if v == "funnel_conversion" {
			from += "(window_seconds = 86400)"
		}
		if code, body := as("SELECT count() FROM "+from, nil); code != http.StatusOK {
			t.Errorf("analyst cannot read %s: %s", v, body)
		} else if v == "stage_reach" && strings.TrimSpace(body) == "0" {
			t.Errorf("stage_reach is empty for the analyst")
		}
	}
	for _, ex := range examples(t) {
		code, body := as(ex.query, ex.params)
		// Examples that read the events table need more than the role.
		readsEvents := regexp.MustCompile(`(?i)\b(FROM|JOIN)\s+events\b`).MatchString(ex.query)
		switch {
		case readsEvents && code == http.StatusOK:
			t.Errorf("example %s reads events, yet the analyst could run it", ex.name)
		case readsEvents && !strings.Contains(body, "ACCESS_DENIED"):
			t.Errorf("example %s: want ACCESS_DENIED, got %s", ex.name, body)
		case !readsEvents && code != http.StatusOK:
			t.Errorf("example %s reads only views, but the analyst cannot run it: %s", ex.name, body)
		}
	}
	// Writes and DDL fail the grant check before readonly is looked at; the
	// settings cases show readonly itself.
	for _, c := range []struct{ what, q, want string }{
		{"read events", "SELECT count() FROM " + roleDB + ".events", "ACCESS_DENIED"},
		{"read an aggregate table", "SELECT count() FROM " + roleDB + ".customer_stages", "ACCESS_DENIED"},
		{"read the batch log", "SELECT count() FROM " + roleDB + ".ingest_batches", "ACCESS_DENIED"},
		{"insert", "INSERT INTO " + roleDB + ".events (event_id) VALUES ('x')", "ACCESS_DENIED"},
		{"create a table", "CREATE TABLE " + roleDB + ".x (a UInt8) ENGINE = Memory", "ACCESS_DENIED"},
		{"drop a view", "DROP VIEW " + roleDB + ".stage_reach", "ACCESS_DENIED"},
		{"change a setting", "SELECT 1 SETTINGS max_result_rows = 10", "READONLY"},
		{"leave read-only", "SELECT 1 SETTINGS readonly = 0", "READONLY"},
		{"exceed the time constraint", "SELECT 1 SETTINGS max_execution_time = 900", "SETTING_CONSTRAINT_VIOLATION"},
	} {
		code, body := as(c.q, nil)
		if code == http.StatusOK || !strings.Contains(body, c.want) {
			t.Errorf("%s: HTTP %d %s; want an error with %s", c.what, code, strings.TrimSpace(body), c.want)
		}
	}
	if code, body := as("SELECT 1 SETTINGS max_execution_time = 300", nil); code != http.StatusOK {
		t.Errorf("raise max_execution_time within the constraint: %s", body)
	}
}

// run sends a query over HTTP as user, with query parameters.
func run(t *testing.T, addr, user, password, q string, params map[string]string) (int, string) {
	t.Helper()
	v := url.Values{}
	for k, p := range params {
		v.Set("param_"+k, p)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/?"+v.Encode(), strings.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-ClickHouse-User", user)
	req.Header.Set("X-ClickHouse-Key", password)
	req.Header.Set("X-ClickHouse-Database", roleDB)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}
