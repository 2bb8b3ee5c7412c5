package aggregate

import (
	"fmt"
	"reflect"
	"slices"
	"time"
	"unsafe"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/journeys-analytics/journeys/schemas"
)

// eventColumnList is the column order of an events insert;
// eventColumns.list returns the columns in the same order.
const eventColumnList = "event_id, type, event, customer_id, user_id, anonymous_id, " +
	"ts, original_ts, sent_at, received_at, " +
	"journey, stage, touchpoint, persona, map_version, schema_version, " +
	"stage_index, negative, " +
	"channel, campaign_source, campaign_medium, device_type, device_os, device_manufacturer, locale, " +
	"campaign_name, campaign_term, campaign_content, page_path, page_url, page_title, referrer, " +
	"properties, traits, " +
	"kafka_topic, kafka_partition, kafka_offset"

// eventColumns holds a batch of rows in the driver's own column encoding
// (ch-go's proto columns, which clickhouse-go uses inside), built once per
// batch and kept across batches (Store.columns).
//
// Why not slices handed to batch.Column(i).Append: the driver's columns are
// new for every insert, so Append copies every value into freshly allocated
// buffers, about 4.5 MB for a 10,000-row batch. On a VM whose host backs
// memory lazily, fresh memory is the dearest thing there is: sizing,
// filling and copying the driver's columns was about a quarter of the
// collector's CPU in journeys bench. Here the buffers are warm, and appendTo
// lends them to the driver for the insert.
type eventColumns struct {
	eventID, typ, event, customerID, userID, anonymousID proto.ColStr
	ts, originalTS, sentAt, receivedAt                   proto.ColDateTime64
	journey, stage, touchpoint, persona, mapVersion      proto.ColStr
	schemaVersion                                        proto.ColStr
	stageIndex                                           proto.ColUInt8
	negative                                             proto.ColBool
	channel, campaignSource, campaignMedium              proto.ColStr
	deviceType, deviceOS, deviceManufacturer, locale     proto.ColStr
	campaignName, campaignTerm, campaignContent          proto.ColStr
	pagePath, pageURL, pageTitle, referrer               proto.ColStr
	properties, traits                                   proto.ColStr
	kafkaTopic                                           proto.ColStr
	kafkaPartition                                       proto.ColInt32
	kafkaOffset                                          proto.ColInt64

	// rows is how many rows reset gives room for at least (Config.BatchRows).
	rows int
	// noLend makes appendTo take the public path; tests set it to check
	// that both paths store the same rows.
	noLend bool
}

// list is every column in eventColumnList order.
func (c *eventColumns) list() [37]proto.Column {
	return [...]proto.Column{
		&c.eventID, &c.typ, &c.event, &c.customerID, &c.userID, &c.anonymousID,
		&c.ts, &c.originalTS, &c.sentAt, &c.receivedAt,
		&c.journey, &c.stage, &c.touchpoint, &c.persona, &c.mapVersion, &c.schemaVersion,
		&c.stageIndex, &c.negative,
		&c.channel, &c.campaignSource, &c.campaignMedium, &c.deviceType, &c.deviceOS,
		&c.deviceManufacturer, &c.locale,
		&c.campaignName, &c.campaignTerm, &c.campaignContent, &c.pagePath, &c.pageURL,
		&c.pageTitle, &c.referrer,
		&c.properties, &c.traits,
		&c.kafkaTopic, &c.kafkaPartition, &c.kafkaOffset,
	}
}

func (c *eventColumns) fill(rows []schemas.Enriched) {
	c.reset(len(rows))
	for i := range rows {
		r := &rows[i]
		c.eventID.Append(r.EventID)
		c.typ.Append(r.Type)
		c.event.Append(r.Event.Event)
		c.customerID.Append(r.CustomerID)
		c.userID.Append(r.UserID)
		c.anonymousID.Append(r.AnonymousID)
		c.ts.Data = append(c.ts.Data, dateTime64(r.Timestamp))
		c.originalTS.Data = append(c.originalTS.Data, dateTime64(r.OriginalTimestamp))
		c.sentAt.Data = append(c.sentAt.Data, dateTime64(r.SentAt))
		c.receivedAt.Data = append(c.receivedAt.Data, dateTime64(r.ReceivedAt))
		c.journey.Append(r.Journey)
		c.stage.Append(r.Stage)
		c.touchpoint.Append(r.Touchpoint)
		c.persona.Append(r.Persona)
		c.mapVersion.Append(r.MapVersion)
		c.schemaVersion.Append(schemas.Version)
		c.stageIndex = append(c.stageIndex, r.StageIndex)
		c.negative = append(c.negative, r.Negative)
		ctx := &r.Context
		c.channel.Append(ctx.Channel)
		c.campaignSource.Append(ctx.Campaign.Source)
		c.campaignMedium.Append(ctx.Campaign.Medium)
		c.deviceType.Append(ctx.Device.Type)
		c.deviceOS.Append(ctx.Device.OS)
		c.deviceManufacturer.Append(ctx.Device.Manufacturer)
		c.locale.Append(ctx.Locale)
		c.campaignName.Append(ctx.Campaign.Name)
		c.campaignTerm.Append(ctx.Campaign.Term)
		c.campaignContent.Append(ctx.Campaign.Content)
		c.pagePath.Append(ctx.Page.Path)
		c.pageURL.Append(ctx.Page.URL)
		c.pageTitle.Append(ctx.Page.Title)
		c.referrer.Append(ctx.Referrer)
		appendObject(&c.properties, r.RawProperties)
		appendObject(&c.traits, r.RawTraits)
		c.kafkaTopic.Append(r.Topic)
		c.kafkaPartition = append(c.kafkaPartition, r.Partition)
		c.kafkaOffset = append(c.kafkaOffset, r.Offset)
	}
}

// reset empties the columns and gives them room for n rows, or c.rows when
// that is more, so that each buffer grows once rather than by append's
// repeated 1.25x steps (each a fresh, page-faulting allocation and a copy)
// and again whenever a batch is larger than any before. Past c.rows (or
// without it) a quarter more than n. A String column's bytes are sized at
// its previous batch's bytes per row, plus an eighth: rows vary.
func (c *eventColumns) reset(n int) {
	if n > c.rows {
		n += n / 4
	} else {
		n = c.rows
	}
	for _, col := range c.list() {
		switch col := col.(type) {
		case *proto.ColStr:
			perRow := 16 // before any batch: about an id's length
			if rows := len(col.Pos); rows > 0 {
				perRow = (len(col.Buf)/rows + 1) * 9 / 8
			}
			col.Pos = slices.Grow(col.Pos[:0], n)
			col.Buf = slices.Grow(col.Buf[:0], n*perRow)
		case *proto.ColDateTime64:
			col.Data = slices.Grow(col.Data[:0], n)
		case *proto.ColUInt8:
			*col = slices.Grow((*col)[:0], n)
		case *proto.ColBool:
			*col = slices.Grow((*col)[:0], n)
		case *proto.ColInt32:
			*col = slices.Grow((*col)[:0], n)
		case *proto.ColInt64:
			*col = slices.Grow((*col)[:0], n)
		default:
			col.Reset()
		}
	}
}

// appendTo puts the columns into an insert of eventColumnList, and returns
// what the insert must call once it is over, sent or not: it takes back the
// buffers lent to the driver (see lend), so that nothing the driver might keep
// aliases buffers that the next batch overwrites.
func (c *eventColumns) appendTo(b driver.Batch) (giveBack func(), err error) {
	dst := b.Columns()
	cols := c.list()
	if len(dst) != len(cols) {
		return nil, fmt.Errorf("events insert has %d columns, want %d", len(dst), len(cols))
	}
	loans := make([]loan, 0, len(cols))
	giveBack = func() {
		for _, l := range loans {
			l.give()
		}
	}
	for i, col := range cols {
		if !c.noLend {
			if l, ok := lend(dst[i], col); ok {
				l.take()
				loans = append(loans, l)
				continue
			}
		}
		if err := b.Column(i).Append(publicValues(col)); err != nil {
			return giveBack, err
		}
	}
	return giveBack, nil
}

// loan is the lending of one column: take makes the driver's column share
// the backing arrays of ours, which the driver then encodes as if it had
// appended the values itself; give empties the driver's column again.
type loan struct{ take, give func() }

// lend prepares the loan of src to the driver's column dst.
//
// It relies on how clickhouse-go v2 stores data: each column type of
// lib/column keeps it in an unexported field "col" of the ch-go proto type
// that eventColumns uses. inner checks that by reflection; where a column
// stores data differently (a LowCardinality column, which the HTTP protocol's
// insert header declares, or another driver version), lend reports false and
// appendTo uses the public Append for that column: slower, same rows.
// TestEventColumnsAreLent fails if the pinned driver stops matching.
func lend(dst column.Interface, src proto.Column) (loan, bool) {
	switch src := src.(type) {
	case *proto.ColStr:
		return lendValue(dst, src)
	case *proto.ColDateTime64:
		// Only the data: precision and location are the driver's, from the
		// header, and the values are at millisecond precision.
		d := inner[proto.ColDateTime64](dst)
		if d == nil || d.Precision != proto.PrecisionMilli {
			return loan{}, false
		}
		return loan{take: func() { d.Data = src.Data }, give: func() { d.Data = nil }}, true
	case *proto.ColUInt8:
		return lendValue(dst, src)
	case *proto.ColBool:
		return lendValue(dst, src)
	case *proto.ColInt32:
		return lendValue(dst, src)
	case *proto.ColInt64:
		return lendValue(dst, src)
	}
	return loan{}, false
}

// lendValue is the loan of a column whose whole value is its data.
func lendValue[T any](dst column.Interface, src *T) (loan, bool) {
	d := inner[T](dst)
	if d == nil {
		return loan{}, false
	}
	return loan{
		take: func() { *d = *src },
		give: func() {
			var zero T
			*d = zero
		},
	}, true
}

// inner is the ch-go column of type T inside the driver column c, or nil if
// c does not keep one in its field "col".
func inner[T any](c column.Interface) *T {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f, ok := v.Elem().Type().FieldByName("col")
	if !ok || f.Type != reflect.TypeFor[T]() {
		return nil
	}
	return (*T)(unsafe.Add(v.UnsafePointer(), f.Offset))
}

// publicValues is col in a form the driver's public Append takes.
func publicValues(col proto.Column) any {
	switch col := col.(type) {
	case *proto.ColStr:
		strs := make([]string, col.Rows())
		for i := range strs {
			strs[i] = col.Row(i)
		}
		return strs
	case *proto.ColDateTime64:
		times := make([]time.Time, len(col.Data))
		for i, d := range col.Data {
			times[i] = d.Time(proto.PrecisionMilli).UTC()
		}
		return times
	case *proto.ColUInt8:
		return []uint8(*col)
	case *proto.ColBool:
		return []bool(*col)
	case *proto.ColInt32:
		return []int32(*col)
	case *proto.ColInt64:
		return []int64(*col)
	}
	// list has no other column type; the driver's Append rejects this
	// with an error naming the type.
	return col
}

// dateTime64 is storedTime at the events table's precision.
func dateTime64(t time.Time) proto.DateTime64 {
	return proto.ToDateTime64(t, proto.PrecisionMilli)
}

// storedTime maps the zero time (an absent sent_at) to the Unix epoch:
// DateTime64 cannot hold year 1, and the epoch reads as "absent" in SQL.
func storedTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t
}

// appendObject appends a raw JSON object, "{}" when absent as the schemas
// contract promises.
func appendObject(c *proto.ColStr, b []byte) {
	if len(b) == 0 {
		c.Append("{}")
		return
	}
	c.AppendBytes(b)
}
