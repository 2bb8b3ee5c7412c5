package ingest

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// transport is how every client of the consumer other than the group reader
// (the dead-letter writer, Ping) reaches the brokers: with the Dialer's TLS
// and SASL settings, so that a secured cluster needs them configured once.
func transport(cfg Config) *kafka.Transport {
	t := &kafka.Transport{ClientID: cfg.ClientID}
	if cfg.Dialer != nil {
		t.TLS = cfg.Dialer.TLS
		t.SASL = cfg.Dialer.SASLMechanism
	}
	return t
}

// Ping checks that the brokers answer, with the configured security, and
// that the topic exists: a readiness probe that passed without the topic
// would report ready a collector that can consume nothing.
func (c *Consumer) Ping(ctx context.Context) error {
	t := transport(c.cfg)
	defer t.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Transport: t}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{c.cfg.Topic}})
	if err != nil {
		return fmt.Errorf("ingest: kafka metadata: %w", err)
	}
	for _, tp := range md.Topics {
		if tp.Name != c.cfg.Topic {
			continue
		}
		if tp.Error != nil {
			return fmt.Errorf("ingest: topic %s: %w", c.cfg.Topic, tp.Error)
		}
		if len(tp.Partitions) == 0 {
			return fmt.Errorf("ingest: topic %s has no partitions", c.cfg.Topic)
		}
		return nil
	}
	return fmt.Errorf("ingest: topic %s: not in the brokers' metadata", c.cfg.Topic)
}
