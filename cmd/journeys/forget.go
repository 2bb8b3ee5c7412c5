package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/config"
)

func (a *app) newForgetCmd() *cobra.Command {
	var user string
	var settle time.Duration
	cmd := &cobra.Command{
		Use:   "forget --user ID",
		Short: "Erase a customer from ClickHouse and keep its events out for good",
		Long: `forget erases one customer (right to erasure): it records a hash of the id in
<database>.suppressed_customers, which running collectors reload every
privacy.suppression_refresh and check on every event, also when the topic is
replayed; deletes the customer's rows from every table that has a customer_id
(events, per-customer aggregates, churn scores); and rebuilds the per-day
stage reach it was counted in from the remaining events.

ID is the id as stored: a user id, an anonymous id, or the customer id it was
counted under, before pseudonymisation when that is on. It then waits --settle (default: privacy.suppression_refresh
plus a batch) for every collector to have reloaded the list, and deletes and
rebuilds again, removing what a collector wrote meanwhile. The id is not
logged.

The ClickHouse user needs SELECT, INSERT and ALTER DELETE on the database
(deploy/clickhouse/users.sql, journeys_privacy).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(user) == "" {
				return fmt.Errorf("--user is required")
			}
			cfg, err := a.loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			if err := cfg.RequireClickHouse(); err != nil {
				return err
			}
			if !cmd.Flags().Changed("settle") {
				settle = cfg.Privacy.SuppressionRefresh + cfg.Batch.MaxWait + 5*time.Second
			}
			log := newLogger(a.stderr, cfg.Log)
			store, err := aggregate.Open(cmd.Context(), aggregateConfig(cfg), log, newRegistry())
			if err != nil {
				return err
			}
			defer store.Close()
			// forget's user is not meant to run DDL: the tables must exist.
			pending, err := store.PendingMigrations(cmd.Context())
			if err != nil {
				return err
			}
			if len(pending) > 0 {
				return fmt.Errorf("ClickHouse migrations not applied (%s): run journeys migrate first", strings.Join(pending, ", "))
			}
			// Stored ids are pseudonyms when pseudonymisation is on; the
			// operator knows only the original.
			pseudo, err := pseudonymizer(cfg.Privacy.Pseudonymize)
			if err != nil {
				return err
			}
			if pseudo != nil {
				user = pseudo.ID(user)
			}
			rep, err := store.Forget(cmd.Context(), user)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "suppressed; deleted from %s; rebuilt %d stage_reach_daily rows\n",
				strings.Join(rep.Deleted, ", "), rep.Recomputed)
			if settle > 0 {
				fmt.Fprintf(a.stdout, "waiting %s for collectors to reload the suppression list\n", settle)
				select {
				case <-time.After(settle):
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				}
				if rep, err = store.Forget(cmd.Context(), user); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "second pass: deleted from %s; rebuilt %d stage_reach_daily rows\n",
					strings.Join(rep.Deleted, ", "), rep.Recomputed)
			}
			if len(rep.Unhandled) > 0 {
				return fmt.Errorf("tables without a customer_id column may still hold the customer: %s", strings.Join(rep.Unhandled, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "id of the customer to erase (user id, anonymous id or customer id)")
	cmd.Flags().DurationVar(&settle, "settle", 0, "wait before the second pass (default privacy.suppression_refresh + batch.max_wait + 5s; 0 skips it)")
	config.RegisterFlags(cmd.Flags())
	return cmd
}
