// Package personas proposes personas from behaviour and tracks how existing
// personas change. It is pure: it takes the per-person features that
// aggregate.Store.CustomerFeatures computes in ClickHouse and does no I/O.
//
// Suggest clusters people with k-means (github.com/muesli/kmeans) on a
// feature vector of five equally weighted groups — activity (events, active
// days, span), channels (share of events per context.channel), touchpoints
// (which touchpoints a person hit) and stage progress (furthest stage per
// journey), acquisition (landing campaign source, medium and site section)
// and value (spend from properties.revenue, company_size from traits, churn
// signals) — and picks k by silhouette unless told. For each cluster it
// reports its size, what distinguishes it from everybody else, and a
// journey-map persona rule (expr syntax) built only from attributes an event
// carries, with the rule's precision and recall measured on the same people.
// k-means starts from random centres, so two runs may differ slightly; Suggest
// keeps the best of several restarts.
//
// Drift compares, per persona as the journey map assigned it, the size and
// average behaviour of two periods.
package personas
