package devbroker_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/journeys-analytics/journeys/internal/devbroker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestProduceConsumeGroup(t *testing.T) {
	const (
		topic = "events"
		n     = 1000
	)
	b, err := devbroker.Start(devbroker.Options{
		Partitions: 3,
		Topics:     []string{topic},
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	// An own Transport, closed at the end: the default one is shared by the
	// whole process and keeps its connections, which goleak would report.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:         kafka.TCP(b.Addrs()...),
		Transport:    tr,
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
	}
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "k%d", i%17), Value: fmt.Appendf(nil, "v%d", i)}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     b.Addrs(),
		GroupID:     "test",
		Topic:       topic,
		StartOffset: kafka.FirstOffset,
		MaxWait:     100 * time.Millisecond,
	})
	seen := make(map[string]bool, n)
	partitions := map[int]bool{}
	for len(seen) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", len(seen), err)
		}
		seen[string(m.Value)] = true
		partitions[m.Partition] = true
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// Commit before Close: kafka-go can block committing on a closed reader.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if !seen[fmt.Sprintf("v%d", i)] {
			t.Fatalf("message v%d never read", i)
		}
	}
	if len(partitions) != 3 {
		t.Errorf("read from partitions %v, want all 3", partitions)
	}
}

func TestTopicsAreNotAutoCreated(t *testing.T) {
	b, err := devbroker.Start(devbroker.Options{Topics: []string{"known"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Transport: tr}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"known", "unknown"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range md.Topics {
		switch tp.Name {
		case "known":
			if tp.Error != nil || len(tp.Partitions) != 1 {
				t.Errorf("known: err %v, %d partitions; want 1 partition", tp.Error, len(tp.Partitions))
			}
		case "unknown":
			if tp.Error == nil {
				t.Error("unknown topic exists")
			}
		}
	}
}

func TestRetentionDropsOldestData(t *testing.T) {
	const topic = "small"
	b, err := devbroker.Start(devbroker.Options{Topics: []string{topic}, RetentionBytes: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:         kafka.TCP(b.Addrs()...),
		Transport:    tr,
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		BatchSize:    1, // retention drops whole batches; make many
		BatchTimeout: time.Millisecond,
	}
	value := make([]byte, 1<<10)
	for range 64 {
		if err := w.WriteMessages(ctx, kafka.Message{Value: value}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The broker's cleaner runs every few seconds; wait for it to pass.
	client := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Transport: tr}
	for {
		res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
			Topics: map[string][]kafka.OffsetRequest{topic: {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		po := res.Topics[topic][0]
		if po.Error != nil {
			t.Fatal(po.Error)
		}
		if po.FirstOffset > 0 {
			if kept := po.LastOffset - po.FirstOffset; kept > 9 {
				t.Fatalf("kept %d 1 KiB messages with an 8 KiB limit", kept)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("retention never ran: offsets %d..%d", po.FirstOffset, po.LastOffset)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func TestAddrInUse(t *testing.T) {
	b, err := devbroker.Start(devbroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b2, err := devbroker.Start(devbroker.Options{Addr: b.Addrs()[0]}); err == nil {
		b2.Close()
		t.Error("second broker on a taken address started")
	}
}
