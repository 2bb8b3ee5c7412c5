package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/internal/gen"
	"github.com/journeys-analytics/journeys/internal/testenv"
	"github.com/journeys-analytics/journeys/privacy"
)

const (
	forgetTopic = "forget.events"
	forgetDLQ   = "forget.events.dlq"
)

// TestForget erases one customer from a pipeline that consumed generated
// journeys, then replays the whole topic into emptied tables, as a rebuild
// would: the customer must be gone from every table after both, the
// per-day stage reach must equal a fresh count over the remaining events,
// and every other customer must be back after the replay.
func TestForget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers := testenv.Kafka(t, 2, forgetTopic, forgetDLQ)
	ch := testenv.ClickHouse(t)

	gcfg := gen.DefaultConfig()
	gcfg.Seed = 11
	gcfg.Customers = 80
	gcfg.MaxEventBytes = 8 << 10
	g := gen.New(gcfg)
	var msgs []kafka.Message
	for {
		m, ok := g.Next()
		if !ok {
			break
		}
		msgs = append(msgs, kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time})
	}
	produceForget(ctx, t, brokers, msgs...)

	env := map[string]string{
		"JOURNEYS_KAFKA_BROKERS":               strings.Join(brokers, ","),
		"JOURNEYS_KAFKA_TOPIC":                 forgetTopic,
		"JOURNEYS_KAFKA_DEAD_LETTER_TOPIC":     forgetDLQ,
		"JOURNEYS_KAFKA_GROUP_ID":              "first",
		"JOURNEYS_CLICKHOUSE_ADDR":             ch.Addr,
		"JOURNEYS_CLICKHOUSE_DATABASE":         ch.Database,
		"JOURNEYS_JOURNEY_MAP":                 "../../deploy/journey-map.yaml",
		"JOURNEYS_SCHEMA_MAX_EVENT_BYTES":      fmt.Sprint(gcfg.MaxEventBytes),
		"JOURNEYS_HTTP_LISTEN":                 "",
		"JOURNEYS_BATCH_MAX_WAIT":              "100ms",
		"JOURNEYS_PRIVACY_SUPPRESSION_REFRESH": "100ms",
		"JOURNEYS_LOG_LEVEL":                   "warn",
	}
	consume(ctx, t, env)

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	db := ch.Database
	str := func(q string) string {
		t.Helper()
		var s string
		if err := conn.QueryRow(ctx, q).Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return s
	}
	// The customer with the most touchpoint events, and what the others add
	// up to.
	victim := str("SELECT customer_id FROM " + db + ".events WHERE journey != '' GROUP BY customer_id ORDER BY count() DESC, customer_id LIMIT 1")
	// Its anonymous history before it identified is erased with it.
	linked := "(SELECT '" + victim + "' UNION ALL SELECT DISTINCT anonymous_id FROM " + db + ".events WHERE user_id = '" + victim + "' AND anonymous_id != '')"
	erased := strings.Split(str("SELECT arrayStringConcat(groupArray(x), ',') FROM (SELECT * FROM "+linked+" AS t(x))"), ",")
	others := str("SELECT toString(count()) FROM " + db + ".events WHERE customer_id NOT IN " + linked)
	t.Logf("erasing %d ids: %v; %s events of others", len(erased), erased, others)
	checkReachConsistent(ctx, t, conn, db, "before forget")

	var out strings.Builder
	if err := run(ctx, []string{"forget", "--user", victim, "--settle", "0"}, &out, io.Discard, lookup(env)); err != nil {
		t.Fatalf("forget: %v\n%s", err, out.String())
	}
	for _, id := range erased {
		checkErased(ctx, t, conn, db, id, "after forget")
	}
	checkReachConsistent(ctx, t, conn, db, "after forget")
	if got := str("SELECT toString(count()) FROM " + db + ".events"); got != others {
		t.Errorf("events after forget = %s, want the other customers' %s", got, others)
	}
	if got := str("SELECT toString(count()) FROM " + db + ".suppressed_customers WHERE id_hash = '" + privacy.SuppressionKey(victim) + "'"); got != "1" {
		t.Errorf("suppression records = %s, want 1", got)
	}

	// A new event of the erased customer, then a replay of the whole topic
	// into emptied tables under a new group, as a rebuild would do. The
	// suppression list is what survives.
	produceForget(ctx, t, brokers, kafka.Message{Key: []byte(victim), Value: fmt.Appendf(nil,
		`{"event_id":"after-forget","type":"track","event":"Signed Up","user_id":%q,"anonymous_id":%q,"timestamp":%q}`,
		victim, victim, time.Now().UTC().Format(time.RFC3339))})
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree' "+
		"AND name NOT IN ('schema_migrations', 'suppressed_customers')", clickhouse.Named("db", db))
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	for _, tb := range tables {
		if err := conn.Exec(ctx, "TRUNCATE TABLE "+db+"."+tb); err != nil {
			t.Fatal(err)
		}
	}
	env["JOURNEYS_KAFKA_GROUP_ID"] = "replay"
	consume(ctx, t, env)
	for _, id := range erased {
		checkErased(ctx, t, conn, db, id, "after the replay")
	}
	checkReachConsistent(ctx, t, conn, db, "after the replay")
	if got := str("SELECT toString(count()) FROM " + db + ".events"); got != others {
		t.Errorf("events after the replay = %s, want the other customers' %s back", got, others)
	}
}

func produceForget(ctx context.Context, t *testing.T, brokers []string, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: forgetTopic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchSize: 500, BatchTimeout: 2 * time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// consume runs the collector until its group has committed the whole topic.
func consume(ctx context.Context, t *testing.T, env map[string]string) {
	t.Helper()
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	var logs lockedBuffer
	wg.Go(func() { runErr = run(runCtx, []string{"run"}, io.Discard, &logs, lookup(env)) })
	cfg := config.Default()
	cfg.Kafka.Brokers, cfg.Kafka.Topic, cfg.Kafka.GroupID = strings.Split(env["JOURNEYS_KAFKA_BROKERS"], ","), forgetTopic, env["JOURNEYS_KAFKA_GROUP_ID"]
	err := waitConsumed(ctx, cfg, io.Discard)
	stop()
	wg.Wait()
	if err != nil || runErr != nil {
		t.Fatalf("collector: wait %v, run %v\nlogs:\n%s", err, runErr, logs.String())
	}
}

// checkErased requires that no table with a customer id column has a row
// of id.
func checkErased(ctx context.Context, t *testing.T, conn driver.Conn, db, id, when string) {
	t.Helper()
	rows, err := conn.Query(ctx, `SELECT table, groupArray(name) FROM system.columns
WHERE database = {db:String} AND name IN ('customer_id', 'user_id', 'anonymous_id')
  AND table IN (SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree')
GROUP BY table`, clickhouse.Named("db", db))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table string
		var cols []string
		if err := rows.Scan(&table, &cols); err != nil {
			t.Fatal(err)
		}
		n++
		var cond []string
		for _, c := range cols {
			cond = append(cond, c+" = {id:String}")
		}
		var count uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+table+" WHERE "+strings.Join(cond, " OR "),
			clickhouse.Named("id", id)).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != 0 {
			t.Errorf("%s: %s still has %d rows of the erased customer", when, table, count)
		}
	}
	if n < 3 {
		t.Errorf("%s: only %d tables with customer ids checked", when, n)
	}
}

// checkReachConsistent requires stage_reach_daily, merged, to equal a count
// over the events table: what a rebuild from events would give.
func checkReachConsistent(ctx context.Context, t *testing.T, conn driver.Conn, db, when string) {
	t.Helper()
	agg := func(q string) string {
		var s string
		if err := conn.QueryRow(ctx, "SELECT arrayStringConcat(arraySort(groupArray(k)), '\\n') FROM ("+q+")").Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return s
	}
	got := agg("SELECT concat(journey, '|', persona, '|', toString(day), '|', toString(stage_index), '|', toString(uniqExactMerge(customers)), '|', toString(sum(events))) AS k FROM " +
		db + ".stage_reach_daily GROUP BY journey, persona, day, stage_index")
	want := agg("SELECT concat(journey, '|', persona, '|', toString(toDate(ts)), '|', toString(stage_index), '|', toString(uniqExact(customer_id)), '|', toString(count())) AS k FROM " +
		db + ".events WHERE journey != '' GROUP BY journey, persona, toDate(ts), stage_index")
	if got != want {
		t.Errorf("%s: stage_reach_daily differs from a count over events:\n got: %.2000s\nwant: %.2000s", when, got, want)
	}
	if want == "" {
		t.Errorf("%s: no touchpoint events at all", when)
	}
}

// TestPseudonymisation stores a customer under HMAC pseudonyms only, with a
// listed property hashed, and erases it with forget given the original id.
func TestPseudonymisation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	brokers := testenv.Kafka(t, 1, forgetTopic, forgetDLQ)
	ch := testenv.ClickHouse(t)
	const key = "test-pseudonymisation-key-32-bytes!"
	now := time.Now().UTC().Format(time.RFC3339)
	produceForget(ctx, t, brokers,
		kafka.Message{Value: fmt.Appendf(nil, `{"event_id":"p1","type":"track","event":"Signed Up","anonymous_id":"anon-7","properties":{"email":"alice@example.com","plan":"pro"},"timestamp":%q}`, now)},
		kafka.Message{Value: fmt.Appendf(nil, `{"event_id":"p2","type":"identify","user_id":"alice@example.com","anonymous_id":"anon-7","traits":{"email":"alice@example.com"},"timestamp":%q}`, now)},
		kafka.Message{Value: fmt.Appendf(nil, `{"event_id":"p3","type":"track","event":"Signed Up","user_id":"bob","timestamp":%q}`, now)},
	)
	env := map[string]string{
		"JOURNEYS_KAFKA_BROKERS":                        strings.Join(brokers, ","),
		"JOURNEYS_KAFKA_TOPIC":                          forgetTopic,
		"JOURNEYS_KAFKA_DEAD_LETTER_TOPIC":              forgetDLQ,
		"JOURNEYS_KAFKA_GROUP_ID":                       "pseudo",
		"JOURNEYS_CLICKHOUSE_ADDR":                      ch.Addr,
		"JOURNEYS_CLICKHOUSE_DATABASE":                  ch.Database,
		"JOURNEYS_JOURNEY_MAP":                          "../../deploy/journey-map.yaml",
		"JOURNEYS_HTTP_LISTEN":                          "",
		"JOURNEYS_BATCH_MAX_WAIT":                       "100ms",
		"JOURNEYS_LOG_LEVEL":                            "warn",
		"JOURNEYS_PRIVACY_PSEUDONYMIZE_ENABLED":         "true",
		"JOURNEYS_PRIVACY_PSEUDONYMIZE_KEY":             key,
		"JOURNEYS_PRIVACY_PSEUDONYMIZE_PROPERTIES":      "email",
		"JOURNEYS_PRIVACY_PSEUDONYMIZE_PROPERTY_ACTION": "hash",
	}
	consume(ctx, t, env)
	p, err := privacy.NewPseudonymizer([]byte(key), []string{"email"}, false)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	count := func(where string, args ...any) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+ch.Database+".events WHERE "+where, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("positionCaseInsensitive(concat(user_id, anonymous_id, customer_id, properties, traits), 'alice') > 0 OR position(anonymous_id, 'anon-7') > 0"); n != 0 {
		t.Errorf("%d events still hold an original id or email", n)
	}
	alice := p.ID("alice@example.com")
	// The identify event counts under alice's pseudonym, the earlier
	// anonymous one under the anonymous id's, linked by the identify.
	if n := count("customer_id = {c:String}", clickhouse.Named("c", alice)); n != 1 {
		t.Errorf("events under alice's pseudonym = %d, want 1", n)
	}
	if n := count("customer_id = {c:String}", clickhouse.Named("c", p.ID("anon-7"))); n != 1 {
		t.Errorf("events under the anonymous pseudonym = %d, want 1", n)
	}
	if n := count("position(properties, {h:String}) > 0", clickhouse.Named("h", p.ID("alice@example.com"))); n != 1 {
		t.Errorf("events with the hashed email property = %d, want 1", n)
	}
	if err := run(ctx, []string{"forget", "--user", "alice@example.com", "--settle", "0"}, io.Discard, io.Discard, lookup(env)); err != nil {
		t.Fatal(err)
	}
	// Her history before she identified goes with her.
	if n := count("has({c:Array(String)}, customer_id)", clickhouse.Named("c", []string{alice, p.ID("anon-7")})); n != 0 {
		t.Errorf("forget by original id left %d events", n)
	}
	if n := count("customer_id = {c:String}", clickhouse.Named("c", p.ID("bob"))); n != 1 {
		t.Errorf("bob's events = %d, want 1", n)
	}
}
