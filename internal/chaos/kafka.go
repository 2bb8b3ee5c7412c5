package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/journeys-analytics/journeys/ingest"
	"github.com/journeys-analytics/journeys/internal/gen"
)

// Expect is what the stream's invalid messages must become: original bytes
// to the dead-letter reason.
type Expect struct {
	Reasons map[string]string
}

// Produce writes every message of g to topic, streaming (a million events
// never sit in memory at once), and returns what the dead-letter topic must
// hold. It paces itself at rate messages per second when rate > 0, so that
// a run has a "during" for faults to happen in.
func Produce(ctx context.Context, brokers []string, topic string, g *gen.Generator, rate int) (*Expect, error) {
	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    1000,
		BatchTimeout: 2 * time.Millisecond,
	}
	defer w.Close()
	exp := &Expect{Reasons: map[string]string{}}
	const chunk = 2000
	buf := make([]kafka.Message, 0, chunk)
	began := time.Now()
	sent := 0
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, buf...); err != nil {
			return fmt.Errorf("chaos: produce: %w", err)
		}
		sent += len(buf)
		buf = buf[:0]
		if rate > 0 {
			due := began.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))
			select {
			case <-time.After(time.Until(due)):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	for {
		m, ok := g.Next()
		if !ok {
			break
		}
		if m.Invalid != "" {
			exp.Reasons[string(m.Value)] = m.Invalid
		}
		buf = append(buf, kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time})
		if len(buf) == chunk {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return exp, nil
}

// Progress returns, per partition of topic, the end offset and the group's
// committed offset (-1: none).
func Progress(ctx context.Context, brokers []string, topic, group string) (committed, end map[int]int64, err error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, nil, err
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return nil, nil, fmt.Errorf("chaos: topic %s not found", topic)
	}
	var reqs []kafka.OffsetRequest
	var parts []int
	for _, p := range meta.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
		parts = append(parts, p.ID)
	}
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, nil, err
	}
	end = map[int]int64{}
	for _, po := range lo.Topics[topic] {
		if po.Error != nil {
			return nil, nil, po.Error
		}
		end[po.Partition] = po.LastOffset
	}
	of, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, nil, err
	}
	committed = map[int]int64{}
	for _, po := range of.Topics[topic] {
		committed[po.Partition] = po.CommittedOffset
	}
	return committed, end, nil
}

// Lag is the sum over partitions of end minus committed offset.
func Lag(ctx context.Context, brokers []string, topic, group string) (int64, error) {
	committed, end, err := Progress(ctx, brokers, topic, group)
	if err != nil {
		return 0, err
	}
	var lag int64
	for p, e := range end {
		c := committed[p]
		lag += e - max(c, 0)
	}
	return lag, nil
}

// WaitCaughtUp polls until the group has committed every partition to its
// end, or ctx ends.
func WaitCaughtUp(ctx context.Context, brokers []string, topic, group string) error {
	var last int64 = -1
	for {
		lag, err := Lag(ctx, brokers, topic, group)
		if err == nil && lag == 0 {
			return nil
		}
		if err == nil {
			last = lag
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: group %s not caught up (lag %d): %w", group, last, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ResetOffset commits offset for one partition of the group, as an operator
// resetting offsets does. The group must have no live member.
func ResetOffset(ctx context.Context, brokers []string, topic, group string, partition int, offset int64) error {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	resp, err := client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
		GroupID:      group,
		GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{
			topic: {{Partition: partition, Offset: offset}},
		},
	})
	if err != nil {
		return fmt.Errorf("chaos: reset offset: %w", err)
	}
	for _, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("chaos: reset offset of partition %d: %w", p.Partition, p.Error)
			}
		}
	}
	return nil
}

// ReadDeadLetters reads the whole dead-letter topic.
func ReadDeadLetters(ctx context.Context, brokers []string, topic string) ([]ingest.DeadLetter, error) {
	_, end, err := Progress(ctx, brokers, topic, "chaos-none")
	if err != nil {
		return nil, err
	}
	var out []ingest.DeadLetter
	for p, last := range end {
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			m, err := r.FetchMessage(rctx)
			cancel()
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("chaos: read dead letters %d@%d: %w", p, len(out), err)
			}
			var d ingest.DeadLetter
			if err := json.Unmarshal(m.Value, &d); err != nil {
				r.Close()
				return nil, fmt.Errorf("chaos: dead letter at %d/%d is not JSON: %w", p, m.Offset, err)
			}
			out = append(out, d)
			if m.Offset+1 >= last {
				break
			}
		}
		r.Close()
	}
	return out, nil
}
