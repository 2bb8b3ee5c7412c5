package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/journeys-analytics/journeys/internal/devbroker"
)

// newBrokerCmd runs the in-process Kafka-protocol broker on its own, for
// tests that span processes and for anyone who wants a throwaway Kafka.
func newBrokerCmd() *cobra.Command {
	var (
		o      devbroker.Options
		topics string
	)
	cmd := &cobra.Command{
		Use:   "dev-broker",
		Short: "Run a throwaway single-node Kafka-protocol broker in the foreground (no replication, not for production)",
		Long: `Runs an in-memory Kafka-protocol broker (franz-go's kfake) until SIGINT or SIGTERM,
after printing one line "dev-broker addrs=HOST:PORT[,...]". Topics are created at
start; clients cannot create more. Each partition keeps at most --retention-bytes
(oldest data dropped first); everything is lost when it stops.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, t := range strings.Split(topics, ",") {
				if t = strings.TrimSpace(t); t != "" {
					o.Topics = append(o.Topics, t)
				}
			}
			o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			b, err := devbroker.Start(o)
			if err != nil {
				return err
			}
			defer b.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "dev-broker addrs=%s\n", strings.Join(b.Addrs(), ","))
			<-cmd.Context().Done()
			o.Logger.Info("dev-broker: stopping")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "listen", "127.0.0.1:9092", "host:port to listen on and advertise (port 0 picks a free one)")
	f.IntVar(&o.Partitions, "partitions", 6, "partitions per topic")
	f.StringVar(&topics, "topics", "", "comma-separated topics to create")
	f.Int64Var(&o.RetentionBytes, "retention-bytes", devbroker.DefaultRetentionBytes, "bytes kept per partition (-1: unbounded)")
	return cmd
}
