package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/journeys-analytics/journeys/schemas"
)

// DeadLetter is the JSON record written to the dead-letter topic for every
// message that failed validation. Value holds the original bytes (base64 in
// JSON), so nothing about the bad input is lost and it can be replayed once
// fixed.
type DeadLetter struct {
	Reason        schemas.Reason `json:"reason"`
	Detail        string         `json:"detail"`
	Topic         string         `json:"topic"`
	Partition     int32          `json:"partition"`
	Offset        int64          `json:"offset"`
	RecordTime    time.Time      `json:"record_time"`
	Key           []byte         `json:"key,omitempty"`
	Value         []byte         `json:"value"`
	SchemaVersion string         `json:"schema_version"`
	// DeadLetteredAt is when this record was written; a message can be
	// dead-lettered twice if the collector crashed before committing.
	DeadLetteredAt time.Time `json:"dead_lettered_at"`
}

type deadLetterWriter struct {
	w   *kafka.Writer
	log *slog.Logger
}

func newDeadLetterWriter(cfg Config, log *slog.Logger) *deadLetterWriter {
	return &deadLetterWriter{
		log: log,
		w: &kafka.Writer{
			Addr:  kafka.TCP(cfg.Brokers...),
			Topic: cfg.DeadLetterTopic,
			// The literal's zero values mean acks=none and a 1 s linger:
			// both wrong for a record we must not lose and wait on.
			RequiredAcks: kafka.RequireAll,
			BatchTimeout: 5 * time.Millisecond,
			Balancer:     &kafka.Hash{},
			Transport:    transport(cfg),
		},
	}
}

func (d *deadLetterWriter) write(ctx context.Context, records []DeadLetter) error {
	if len(records) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(records))
	for i := range records {
		v, err := json.Marshal(&records[i])
		if err != nil {
			return fmt.Errorf("ingest: encode dead letter: %w", err)
		}
		msgs[i] = kafka.Message{Key: records[i].Key, Value: v}
	}
	if err := d.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("ingest: write %d dead letters: %w", len(msgs), err)
	}
	return nil
}

func (d *deadLetterWriter) Close() {
	if err := d.w.Close(); err != nil {
		d.log.Warn("closing dead-letter writer", "err", err)
	}
}
