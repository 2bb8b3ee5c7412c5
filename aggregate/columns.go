package aggregate

import (
	"bytes"
	"time"
	"unsafe"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/journeys-analytics/journeys/schemas"
)

// eventColumnList is the column order of an events insert;
// eventColumns.appendTo appends in the same order.
const eventColumnList = "event_id, type, event, customer_id, user_id, anonymous_id, " +
	"ts, original_ts, sent_at, received_at, " +
	"journey, stage, touchpoint, persona, map_version, schema_version, " +
	"stage_index, negative, " +
	"channel, campaign_source, campaign_medium, device_type, device_os, device_manufacturer, locale, " +
	"campaign_name, campaign_term, campaign_content, page_path, page_url, page_title, referrer, " +
	"properties, traits, " +
	"kafka_topic, kafka_partition, kafka_offset"

// eventColumns holds a batch of rows column by column: the driver encodes
// whole slices far faster than it reflects over structs. The slices are reused
// across batches (Store.columns) so that a steady stream of batches does not
// allocate them again.
type eventColumns struct {
	eventID, typ, event, customerID, userID, anonymousID []string
	ts, originalTS, sentAt, receivedAt                   []time.Time
	journey, stage, touchpoint, persona, mapVersion      []string
	schemaVersion                                        []string
	stageIndex                                           []uint8
	negative                                             []bool
	channel, campaignSource, campaignMedium              []string
	deviceType, deviceOS, deviceManufacturer, locale     []string
	campaignName, campaignTerm, campaignContent          []string
	pagePath, pageURL, pageTitle, referrer               []string
	properties, traits                                   []string
	kafkaTopic                                           []string
	kafkaPartition                                       []int32
	kafkaOffset                                          []int64

	// pad is reserveBytes' filler, as long as the largest column; never
	// written. empty is reserve's reader that has nothing to read.
	pad   []byte
	empty *proto.Reader
}

func (c *eventColumns) fill(rows []schemas.Enriched) {
	n := len(rows)
	c.eventID, c.typ, c.event = reuse(c.eventID, n), reuse(c.typ, n), reuse(c.event, n)
	c.customerID, c.userID, c.anonymousID = reuse(c.customerID, n), reuse(c.userID, n), reuse(c.anonymousID, n)
	c.ts, c.originalTS, c.sentAt, c.receivedAt = reuse(c.ts, n), reuse(c.originalTS, n), reuse(c.sentAt, n), reuse(c.receivedAt, n)
	c.journey, c.stage, c.touchpoint = reuse(c.journey, n), reuse(c.stage, n), reuse(c.touchpoint, n)
	c.persona, c.mapVersion, c.schemaVersion = reuse(c.persona, n), reuse(c.mapVersion, n), reuse(c.schemaVersion, n)
	c.stageIndex, c.negative = reuse(c.stageIndex, n), reuse(c.negative, n)
	c.channel, c.campaignSource, c.campaignMedium = reuse(c.channel, n), reuse(c.campaignSource, n), reuse(c.campaignMedium, n)
	c.deviceType, c.deviceOS, c.deviceManufacturer, c.locale = reuse(c.deviceType, n), reuse(c.deviceOS, n), reuse(c.deviceManufacturer, n), reuse(c.locale, n)
	c.campaignName, c.campaignTerm, c.campaignContent = reuse(c.campaignName, n), reuse(c.campaignTerm, n), reuse(c.campaignContent, n)
	c.pagePath, c.pageURL, c.pageTitle, c.referrer = reuse(c.pagePath, n), reuse(c.pageURL, n), reuse(c.pageTitle, n), reuse(c.referrer, n)
	c.properties, c.traits = reuse(c.properties, n), reuse(c.traits, n)
	c.kafkaTopic, c.kafkaPartition, c.kafkaOffset = reuse(c.kafkaTopic, n), reuse(c.kafkaPartition, n), reuse(c.kafkaOffset, n)

	for i := range rows {
		r := &rows[i]
		c.eventID[i], c.typ[i], c.event[i] = r.EventID, r.Type, r.Event.Event
		c.customerID[i], c.userID[i], c.anonymousID[i] = r.CustomerID, r.UserID, r.AnonymousID
		c.ts[i], c.originalTS[i] = storedTime(r.Timestamp), storedTime(r.OriginalTimestamp)
		c.sentAt[i], c.receivedAt[i] = storedTime(r.SentAt), storedTime(r.ReceivedAt)
		c.journey[i], c.stage[i], c.touchpoint[i] = r.Journey, r.Stage, r.Touchpoint
		c.persona[i], c.mapVersion[i], c.schemaVersion[i] = r.Persona, r.MapVersion, schemas.Version
		c.stageIndex[i], c.negative[i] = r.StageIndex, r.Negative
		ctx := &r.Context
		c.channel[i], c.campaignSource[i], c.campaignMedium[i] = ctx.Channel, ctx.Campaign.Source, ctx.Campaign.Medium
		c.deviceType[i], c.deviceOS[i], c.deviceManufacturer[i] = ctx.Device.Type, ctx.Device.OS, ctx.Device.Manufacturer
		c.locale[i] = ctx.Locale
		c.campaignName[i], c.campaignTerm[i], c.campaignContent[i] = ctx.Campaign.Name, ctx.Campaign.Term, ctx.Campaign.Content
		c.pagePath[i], c.pageURL[i], c.pageTitle[i], c.referrer[i] = ctx.Page.Path, ctx.Page.URL, ctx.Page.Title, ctx.Referrer
		c.properties[i], c.traits[i] = jsonView(r.RawProperties), jsonView(r.RawTraits)
		c.kafkaTopic[i], c.kafkaPartition[i], c.kafkaOffset[i] = r.Topic, r.Partition, r.Offset
	}
}

// appendTo appends every column to an insert of eventColumnList.
func (c *eventColumns) appendTo(b driver.Batch) error {
	cols := [...]any{
		c.eventID, c.typ, c.event, c.customerID, c.userID, c.anonymousID,
		c.ts, c.originalTS, c.sentAt, c.receivedAt,
		c.journey, c.stage, c.touchpoint, c.persona, c.mapVersion, c.schemaVersion,
		c.stageIndex, c.negative,
		c.channel, c.campaignSource, c.campaignMedium, c.deviceType, c.deviceOS,
		c.deviceManufacturer, c.locale,
		c.campaignName, c.campaignTerm, c.campaignContent, c.pagePath, c.pageURL,
		c.pageTitle, c.referrer,
		c.properties, c.traits,
		c.kafkaTopic, c.kafkaPartition, c.kafkaOffset,
	}
	dst := b.Columns()
	for i, col := range cols {
		if i < len(dst) {
			c.reserve(dst[i], col, len(c.eventID))
		}
		if err := b.Column(i).Append(col); err != nil {
			return err
		}
	}
	return nil
}

// reserve sizes one of the driver's columns for values before they are
// appended: one exact allocation per buffer instead of growth by append.
//
// Why: the driver's columns are new for every insert and grow by append,
// about a dozen large allocations and copies per column for a 10,000-row
// batch. On a VM whose host backs memory lazily each of those faults its
// pages in again; in journeys bench that growth was 2.2 µs of the
// collector's ~17 µs per event, the largest single cost.
//
// How, with the driver's public column interface only: decoding sizes a
// column exactly before reading any row, so decoding from an empty reader
// allocates and then fails at the first row; a String column's byte buffer
// is sized by appending one string of the total length. Reset then empties
// the column and keeps the capacity. If a driver version decoded
// differently this would only be slower: Reset always empties the column.
//
// values are the rows about to be appended, rows of them.
func (c *eventColumns) reserve(col column.Interface, values any, rows int) {
	// Only the column types the events table uses, whose Decode and Reset
	// are known to touch nothing but the data buffers.
	switch col.(type) {
	case *column.String:
		if strs, ok := values.([]string); ok {
			c.reserveBytes(col, strs)
		}
	case *column.DateTime64, *column.Bool, *column.UInt8, *column.Int32, *column.Int64:
	default:
		return
	}
	if rows == 0 {
		return
	}
	if c.empty == nil {
		c.empty = proto.NewReader(bytes.NewReader(nil))
	}
	_ = col.Decode(c.empty, rows) // fails at row 0, after sizing
	col.Reset()
}

// reserveBytes gives a String column's byte buffer room for strs.
func (c *eventColumns) reserveBytes(col column.Interface, strs []string) {
	total := 0
	for _, s := range strs {
		total += len(s)
	}
	// Below this the buffer comes from the allocator's size classes, where
	// growing is cheap.
	if total < 32<<10 {
		return
	}
	if cap(c.pad) < total {
		c.pad = make([]byte, total)
	}
	if col.AppendRow(unsafe.String(&c.pad[0], total)) == nil {
		col.Reset()
	}
}

// reuse returns s with length n, reallocating only when it is too small.
func reuse[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// storedTime maps the zero time (an absent sent_at) to the Unix epoch:
// DateTime64 cannot hold year 1, and the epoch reads as "absent" in SQL.
func storedTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t
}

// release drops the columns' views of the batch's raw JSON (see jsonView)
// before the buffers go back to the free list, so that an idle free list
// does not keep a whole batch of Kafka messages alive.
func (c *eventColumns) release() {
	clear(c.properties)
	clear(c.traits)
}

// jsonView is the stored form of a raw JSON object ("{}" when absent, as
// the schemas contract promises) as a string that shares b's memory.
// The driver copies every value into its own column buffer during Append, and
// b (sliced from the Kafka message) is not modified while the insert runs, so
// sharing is safe for the life of one insert; release ends it. It saves an
// allocation and a copy of a few hundred bytes per row.
func jsonView(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return unsafe.String(&b[0], len(b))
}
