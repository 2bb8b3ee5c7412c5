package collector

import (
	"github.com/journeys-analytics/journeys/enrich"
	"github.com/journeys-analytics/journeys/schemas"
)

// Customers is the per-customer memory of one partition as a partitionSink
// keeps it: the enrich.State that enriches the partition's events (customer
// ids, identity links, personas) and the churn state of its customers, held
// in that State. A partitionSink builds the same two parts; Customers lets
// `journeys bench` measure them without Kafka or ClickHouse. Not safe for
// concurrent use.
type Customers struct {
	jm    *enrich.Map
	state *enrich.State
	churn *churnTable
}

// NewCustomers returns the empty per-customer memory of one partition.
func NewCustomers(cfg ChurnConfig, jm *enrich.Map) *Customers {
	st := enrich.NewState(jm)
	return &Customers{jm: jm, state: st, churn: newChurnTable(newChurnModel(cfg, jm), st)}
}

// Add enriches ev and folds its row into the churn state, as Write does
// with an event that is neither a redelivery nor suppressed.
func (c *Customers) Add(ev *schemas.Event) {
	e := c.jm.Enrich(c.state, ev, schemas.Source{})
	c.churn.observe(&e)
}

// Len returns how many customers have churn state, how many identity links
// and assigned personas there are, and how many customer ids are stored.
func (c *Customers) Len() (tracked, links, personas, stored int) {
	links, personas = c.state.Len()
	return c.churn.len(), links, personas, c.state.Stored()
}
