package testenv_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/journeys-analytics/journeys/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestClickHouseDatabaseIsFreshAndDropped(t *testing.T) {
	var db string
	var conn clickhouse.Conn
	t.Run("use", func(t *testing.T) {
		ch := testenv.ClickHouse(t)
		db = ch.Database
		var err error
		conn, err = clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr}})
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Exec(t.Context(), "CREATE TABLE "+db+".x (n UInt8) ENGINE = Memory"); err != nil {
			t.Fatal(err)
		}
		// The HTTP address must reach the same server.
		resp, err := http.Get("http://" + ch.HTTPAddr + "/?query=" + url.QueryEscape("EXISTS TABLE "+db+".x"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(body)) != "1" {
			t.Fatalf("EXISTS over HTTP: %q", body)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM system.databases WHERE name = ?", db).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s still exists after its test ended", db)
	}
}

func TestKafka(t *testing.T) {
	addrs := testenv.Kafka(t, 2, "a", "b")
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(addrs...), Transport: tr}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range md.Topics {
		if tp.Error != nil || len(tp.Partitions) != 2 {
			t.Errorf("topic %s: err %v, %d partitions; want 2", tp.Name, tp.Error, len(tp.Partitions))
		}
	}
}
