package schemas

import "embed"

// Migrations holds the ClickHouse DDL as text/template files named
// NNNN_name.sql under migrations/, one idempotent statement each. aggregate
// renders and applies them; they live here, next to the event types, because
// the events table is the storage form of Enriched and changes with it.
//
//go:embed migrations/*.sql
var Migrations embed.FS
