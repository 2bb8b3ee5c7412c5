package deploy

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/internal/localch"
	"github.com/journeys-analytics/journeys/schemas"
)

// childEnv switches the test binary into a ClickHouse child process, so that
// the grants test runs a server with its own users file.
const childEnv = "JOURNEYS_DEPLOY_CLICKHOUSE_CHILD"

func TestMain(m *testing.M) {
	localch.ServeChildIfRequested(childEnv)
	os.Exit(m.Run())
}

var grantTo = regexp.MustCompile(`(?s)^(GRANT .*?)\s+TO\s+(\w+)$`)

// userGrants reads the GRANT statements of clickhouse/users.sql by user,
// without their "TO user": the form a users file takes.
func userGrants(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("clickhouse/users.sql")
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			text.WriteString(line)
		}
	}
	out := map[string][]string{}
	for _, stmt := range strings.Split(text.String(), ";") {
		if m := grantTo.FindStringSubmatch(strings.TrimSpace(stmt)); m != nil {
			out[m[2]] = append(out[m[2]], strings.Join(strings.Fields(m[1]), " "))
		}
	}
	return out
}

// TestGrants runs the collector's and the privacy user's work on a real
// server as users holding exactly the grants of clickhouse/users.sql: the
// collector migrates, writes and resumes; the privacy user forgets a
// customer; and neither can do more (drop, delete, create elsewhere).
func TestGrants(t *testing.T) {
	grants := userGrants(t)
	if len(grants["journeys_collector"]) == 0 || len(grants["journeys_privacy"]) == 0 {
		t.Fatalf("users.sql grants: %v", grants)
	}
	libPath, err := localch.FindLib(filepath.Join("..", ".cache"))
	if err != nil {
		t.Fatalf("%v (run scripts/fetch-clickhouse.sh or set JOURNEYS_LIBCHDB)", err)
	}
	dir := t.TempDir()
	users := `<clickhouse><profiles><default/></profiles><quotas><default/></quotas><users>
<default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>`
	for _, u := range []string{"journeys_collector", "journeys_privacy"} {
		users += "<" + u + "><password>" + u + "-pw</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota><grants>"
		for _, g := range grants[u] {
			users += "<query>" + g + "</query>"
		}
		users += "</grants></" + u + ">\n"
	}
	users += "</users></clickhouse>\n"
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(users), 0o644); err != nil {
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
	exec := func(user, q string) error {
		pw := user + "-pw"
		if user == "default" {
			pw = ""
		}
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.NativeAddr()},
			Auth: clickhouse.Auth{Username: user, Password: pw}})
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Exec(ctx, q)
	}
	// The administrator's part of users.sql.
	if err := exec("default", "CREATE DATABASE journeys"); err != nil {
		t.Fatal(err)
	}
	open := func(user string) *aggregate.Store {
		s, err := aggregate.Open(ctx, aggregate.Config{Addrs: []string{srv.NativeAddr()}, Database: "journeys",
			Username: user, Password: user + "-pw", DedupWindow: 100}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}

	collector := open("journeys_collector")
	if _, err := collector.Migrate(ctx); err != nil {
		t.Fatalf("migrate as journeys_collector: %v", err)
	}
	if pending, err := collector.PendingMigrations(ctx); err != nil || len(pending) > 0 {
		t.Fatalf("pending migrations %v, %v", pending, err)
	}
	row := schemas.Enriched{CustomerID: "c1", Journey: "onboarding", Stage: "signup"}
	row.EventID, row.Type, row.UserID, row.Timestamp = "e1", "track", "c1", time.Now().UTC()
	row.RawProperties, row.RawTraits = []byte("{}"), []byte("{}")
	row.Source = schemas.Source{Topic: "t", Partition: 0, Offset: 0}
	if err := collector.Write(ctx, &aggregate.Batch{Topic: "t", Partition: 0, First: 0, Last: 0, Rows: []schemas.Enriched{row}}); err != nil {
		t.Fatalf("write as journeys_collector: %v", err)
	}
	if _, err := collector.Resume(ctx, "t", 0); err != nil {
		t.Fatalf("resume as journeys_collector: %v", err)
	}
	if _, err := collector.PartitionState(ctx, "t", 0, 10); err != nil {
		t.Fatalf("partition state as journeys_collector: %v", err)
	}

	privacyUser := open("journeys_privacy")
	rep, err := privacyUser.Forget(ctx, "c1")
	if err != nil {
		t.Fatalf("forget as journeys_privacy: %v", err)
	}
	if len(rep.Deleted) == 0 {
		t.Error("forget deleted from no table")
	}

	for _, tc := range []struct{ user, q string }{
		{"journeys_collector", "DROP TABLE journeys.events"},
		{"journeys_collector", "TRUNCATE TABLE journeys.events"},
		{"journeys_collector", "DELETE FROM journeys.events WHERE 1"},
		{"journeys_collector", "CREATE DATABASE elsewhere"},
		{"journeys_collector", "SELECT count() FROM system.users"},
		{"journeys_privacy", "CREATE TABLE journeys.x (a UInt8) ENGINE = Memory"},
		{"journeys_privacy", "DROP TABLE journeys.events"},
	} {
		if err := exec(tc.user, tc.q); err == nil || !strings.Contains(err.Error(), "ACCESS_DENIED") && !strings.Contains(err.Error(), "Not enough privileges") {
			t.Errorf("%s may %q (%v)", tc.user, tc.q, err)
		}
	}
}
