package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/journeys-analytics/journeys/schemas"
)

// Config is what the consumer needs to know about Kafka and batching.
type Config struct {
	Brokers           []string
	Topic             string
	GroupID           string
	DeadLetterTopic   string
	ClientID          string
	MinBytes          int
	MaxBytes          int
	MaxWait           time.Duration
	QueueCapacity     int
	SessionTimeout    time.Duration
	RebalanceTimeout  time.Duration
	HeartbeatInterval time.Duration
	// StartAtLatest makes a group with no committed offset start at the end of
	// the topic instead of the beginning.
	StartAtLatest bool

	// BatchMaxRows also sizes each partition's batch buffer, allocated
	// once, at the partition's first message, and reused: BatchMaxRows
	// records of about 600 bytes.
	BatchMaxRows  int
	BatchMaxBytes int
	BatchMaxWait  time.Duration

	RetryInitial time.Duration
	RetryMax     time.Duration

	// DrainTimeout bounds how long shutdown may spend writing and committing
	// the batches in flight.
	DrainTimeout time.Duration

	// Dialer is optional (TLS, SASL); nil means plain TCP.
	Dialer *kafka.Dialer
}

// Decoder turns raw message bytes into a valid event or a typed rejection.
// receivedAt is the Kafka record time, so that decoding is a pure function of
// the record and replays decide exactly as the first pass did.
//
// raw is handed over: ingest never modifies or reuses it (kafka-go allocates
// every message's value), so the event may point into it rather than copy.
type Decoder interface {
	DecodeOwned(raw []byte, receivedAt time.Time) (schemas.Event, *schemas.Invalid)
}

// Record is a valid event and where it came from: ingest sets its Event and
// Source and leaves the other fields zero. It has the shape of the row that
// will be stored so that the Sink can fill in the rest in place: a record of
// several hundred bytes is then written once per event instead of copied.
type Record = schemas.Enriched

// Batch is a contiguous offset range of one partition. First and Last include
// invalid messages, which have no Record.
type Batch struct {
	Topic     string
	Partition int32
	First     int64
	Last      int64
	// Records is the partition's batch buffer: during Write the Sink may
	// modify the records and move them within the slice; it must not keep
	// the slice after Write returns, as the next batch reuses it.
	Records []Record
}

// OffsetRange is an inclusive range of offsets.
type OffsetRange struct{ First, Last int64 }

// Resume is what the Sink already knows about a partition when this member
// starts owning it.
type Resume struct {
	// LandedThrough is the highest offset whose batch is durable (-1: none).
	// Messages at or below it are skipped.
	LandedThrough int64
	// Pending are batches that were started but may not have landed, in
	// offset order. They are cut again with exactly these bounds.
	Pending []OffsetRange
}

// Sink makes batches durable. It is declared here, by its consumer; the
// collector implements it over enrich and aggregate.
type Sink interface {
	// OpenPartition is called when this member starts owning a partition,
	// before its first fetch. The PartitionSink lives until the partition is
	// revoked or the consumer stops.
	OpenPartition(ctx context.Context, topic string, partition int32) (PartitionSink, Resume, error)
}

// PartitionSink receives one partition's batches in offset order.
type PartitionSink interface {
	// Write returns nil only when the batch is durable. It retries transient
	// failures itself and returns an error only when ctx ends; the batch is
	// then not committed and will be read again.
	Write(ctx context.Context, b *Batch) error
	// Close releases the partition's state. It is called exactly once.
	Close()
}

// Consumer is one member of the consumer group.
type Consumer struct {
	cfg     Config
	log     *slog.Logger
	decoder Decoder
	sink    Sink
	dlq     *deadLetterWriter
	m       *metrics
	// dialer opens the partition readers' connections.
	dialer *kafka.Dialer
}

// New checks cfg and builds a consumer; it does not connect until Run.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer, decoder Decoder, sink Sink) (*Consumer, error) {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("ingest: no brokers"))
	}
	if cfg.Topic == "" || cfg.GroupID == "" || cfg.DeadLetterTopic == "" {
		errs = append(errs, errors.New("ingest: topic, group id and dead-letter topic are required"))
	}
	if cfg.BatchMaxRows <= 0 || cfg.BatchMaxBytes <= 0 || cfg.BatchMaxWait <= 0 {
		errs = append(errs, errors.New("ingest: batch limits must be positive"))
	}
	if cfg.RetryInitial <= 0 || cfg.RetryMax < cfg.RetryInitial {
		errs = append(errs, errors.New("ingest: retry backoff must be positive and max >= initial"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	return &Consumer{
		cfg:     cfg,
		log:     log,
		decoder: decoder,
		sink:    sink,
		dlq:     newDeadLetterWriter(cfg, log),
		m:       newMetrics(reg),
		dialer:  ReaderDialer(cfg.Dialer),
	}, nil
}

// Run consumes until ctx ends, then drains and leaves the group. It returns
// nil after a clean shutdown.
func (c *Consumer) Run(ctx context.Context) error {
	start := kafka.FirstOffset
	if c.cfg.StartAtLatest {
		start = kafka.LastOffset
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                c.cfg.GroupID,
		Brokers:           c.cfg.Brokers,
		Dialer:            c.cfg.Dialer,
		Topics:            []string{c.cfg.Topic},
		SessionTimeout:    c.cfg.SessionTimeout,
		RebalanceTimeout:  c.cfg.RebalanceTimeout,
		HeartbeatInterval: c.cfg.HeartbeatInterval,
		StartOffset:       start,
		// Partitions added to the topic start a new generation so that they
		// get an owner without a restart.
		WatchPartitionChanges: true,
		ErrorLogger:           kafka.LoggerFunc(func(msg string, args ...any) { c.log.Debug("kafka-go: " + fmt.Sprintf(msg, args...)) }),
	})
	if err != nil {
		return fmt.Errorf("ingest: consumer group: %w", err)
	}
	defer c.dlq.Close()

	var wg sync.WaitGroup
	defer func() {
		// Partition goroutines drain first; only then may the member leave,
		// so their final commits still belong to a live generation.
		wg.Wait()
		if err := group.Close(); err != nil {
			c.log.Warn("leaving consumer group", "err", err)
		}
	}()
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Join/sync errors are transient (coordinator moved, broker
			// restarting); kafka-go already backs off before retrying.
			c.log.Warn("consumer group generation failed; rejoining", "err", err)
			continue
		}
		c.m.rebalances.Inc()
		assigned := gen.Assignments[c.cfg.Topic]
		c.log.Info("joined consumer group generation", "generation", gen.ID, "member", gen.MemberID, "partitions", partitionIDs(assigned))
		c.m.assigned.Set(float64(len(assigned)))
		// kafka-go ends a generation as soon as any function started in it
		// returns. On shutdown the partition that drains first would thus
		// end the generation under the others: their flushes cancelled,
		// their commits skipped (measured: internal/chaos
		// TestGracefulShutdown re-read batches and re-wrote their dead
		// letters). So on shutdown each partition waits for the others;
		// otherwise (a broken reader) returning ends the generation on
		// purpose, and the rejoin restarts every partition.
		var drained sync.WaitGroup
		drained.Add(len(assigned))
		for _, pa := range assigned {
			wg.Add(1)
			gen.Start(func(genCtx context.Context) {
				defer wg.Done()
				p := &partition{c: c, gen: gen, id: int32(pa.ID), start: pa.Offset}
				if err := p.run(ctx, genCtx); err != nil {
					c.log.Warn("partition stopped", "partition", pa.ID, "err", err)
				}
				drained.Done()
				if ctx.Err() != nil {
					drained.Wait()
				}
			})
		}
	}
}

func partitionIDs(as []kafka.PartitionAssignment) []int {
	ids := make([]int, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	return ids
}

func partitionLabel(p int32) string { return strconv.Itoa(int(p)) }
