package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/personas"
)

func (a *app) newPersonasCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "personas",
		Short: "Suggest personas from behaviour, and see how personas drift",
	}
	cmd.AddCommand(a.newPersonasSuggestCmd(), a.newPersonasDriftCmd())
	return cmd
}

func (a *app) newPersonasSuggestCmd() *cobra.Command {
	var from, to string
	var o personas.Options
	var weights map[string]string
	cmd := &cobra.Command{
		Use:   "suggest",
		Short: "Cluster customers on their behaviour and propose persona definitions",
		Long: `suggest computes, in ClickHouse, per person (a customer id with the anonymous
ids it identified from folded in) its activity, channels, touchpoints, stage
progress, acquisition campaign and landing section, spend (properties.revenue)
and company size (traits), clusters people with k-means (acquisition weighs
10 times the other feature groups unless --weight says otherwise), and prints per
cluster its size, what distinguishes it, how it overlaps the personas the
current journey map assigns, and a ready-to-paste personas: section of a
journey map whose rules use only attributes events carry. Each rule comes with
its precision and recall measured on the same people. --k 0 (default) picks k
by silhouette. Results can differ slightly between runs (random k-means starts).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := dayFilter(from, to, "from", "to")
			if err != nil {
				return err
			}
			store, err := a.openReadStore(cmd)
			if err != nil {
				return err
			}
			defer store.Close()
			cs, err := store.CustomerFeatures(cmd.Context(), f)
			if err != nil {
				return fmt.Errorf("personas: %w", err)
			}
			if len(weights) > 0 {
				o.Weights = personas.DefaultWeights()
				for g, w := range weights {
					f, err := strconv.ParseFloat(w, 64)
					if err != nil {
						return fmt.Errorf("--weight %s=%s: not a number", g, w)
					}
					o.Weights[g] = f
				}
			}
			s, err := personas.Suggest(cs, o)
			if err != nil {
				return err
			}
			return printSuggestion(a.stdout, s)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "first UTC day, YYYY-MM-DD (default: unbounded)")
	fl.StringVar(&to, "to", "", "last UTC day, YYYY-MM-DD, inclusive (default: unbounded)")
	fl.IntVar(&o.K, "k", 0, "number of clusters; 0 chooses by silhouette")
	fl.IntVar(&o.MaxK, "max-k", 8, "largest k tried when choosing")
	fl.IntVar(&o.Restarts, "restarts", 8, "k-means runs per k; the best is kept")
	fl.StringToStringVar(&weights, "weight", nil, "feature group weights, e.g. acquisition=1,value=2 (groups: "+
		strings.Join(personas.Groups(), ", ")+"; default acquisition=10, others 1)")
	config.RegisterFlags(fl)
	return cmd
}

func (a *app) newPersonasDriftCmd() *cobra.Command {
	var from, to, vsFrom, vsTo string
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "Compare each persona's size and behaviour between two periods",
		Long: `drift compares, per persona as the journey map assigned it (the persona of each
person's latest event in the period), the period --from..--to against the
reference period --vs-from..--vs-to: people, share of all active people, and
the behaviour features whose average moved most (in standard deviations).
Days are UTC, YYYY-MM-DD, inclusive.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			after, err := dayFilter(from, to, "from", "to")
			if err != nil {
				return err
			}
			before, err := dayFilter(vsFrom, vsTo, "vs-from", "vs-to")
			if err != nil {
				return err
			}
			store, err := a.openReadStore(cmd)
			if err != nil {
				return err
			}
			defer store.Close()
			b, err := store.CustomerFeatures(cmd.Context(), before)
			if err != nil {
				return fmt.Errorf("personas: %w", err)
			}
			af, err := store.CustomerFeatures(cmd.Context(), after)
			if err != nil {
				return fmt.Errorf("personas: %w", err)
			}
			return printDrift(a.stdout, personas.Drift(b, af), len(b), len(af))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "first UTC day of the period studied (required)")
	fl.StringVar(&to, "to", "", "last UTC day of the period studied (required)")
	fl.StringVar(&vsFrom, "vs-from", "", "first UTC day of the reference period (required)")
	fl.StringVar(&vsTo, "vs-to", "", "last UTC day of the reference period (required)")
	for _, n := range []string{"from", "to", "vs-from", "vs-to"} {
		_ = cmd.MarkFlagRequired(n) // the flags exist: cannot fail
	}
	config.RegisterFlags(fl)
	return cmd
}

func dayFilter(from, to, fromName, toName string) (aggregate.Filter, error) {
	var f aggregate.Filter
	var err error
	if f.From, err = parseDay(fromName, from); err != nil {
		return f, err
	}
	if f.To, err = parseDay(toName, to); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return f, fmt.Errorf("--%s %s is before --%s %s", toName, to, fromName, from)
	}
	return f, nil
}

func printSuggestion(out io.Writer, s *personas.Suggestion) error {
	fmt.Fprintf(out, "%d people in %d clusters (silhouette %.3f", s.People, s.K, s.Silhouette)
	if len(s.Tried) > 0 {
		var ks []int
		for k := range s.Tried {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		var parts []string
		for _, k := range ks {
			parts = append(parts, fmt.Sprintf("k=%d %.3f", k, s.Tried[k]))
		}
		fmt.Fprintf(out, "; tried %s", strings.Join(parts, ", "))
	}
	fmt.Fprintln(out, ")")
	for _, c := range s.Clusters {
		fmt.Fprintf(out, "\n▸ %s: %d people (%.1f%%)\n", c.Name, c.Size, 100*c.Share)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  feature\tcluster\teveryone\teffect (sd)")
		for _, t := range c.Distinct {
			fmt.Fprintf(tw, "  %s\t%.3g\t%.3g\t%+.2f\n", t.Feature, t.Cluster, t.Population, t.Effect)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(out, "  current personas: %s\n", countsText(c.Personas))
		if c.Rule == "" {
			fmt.Fprintln(out, "  rule: none reaches the precision needed; the cluster differs in behaviour, not in what its first events carry")
		} else {
			fmt.Fprintf(out, "  rule: precision %.1f%%, recall %.1f%%\n", 100*c.Precision, 100*c.Recall)
		}
	}
	fmt.Fprintf(out, "\n# Paste into the journey map (rename the personas):\n%s", s.YAML())
	return nil
}

func countsText(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var xs []kv
	for k, v := range m {
		xs = append(xs, kv{k, v})
	}
	slices.SortFunc(xs, func(a, b kv) int {
		if a.v != b.v {
			return b.v - a.v
		}
		return strings.Compare(a.k, b.k)
	})
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%s %d", x.k, x.v))
	}
	return strings.Join(parts, ", ")
}

func printDrift(out io.Writer, ds []personas.PersonaDrift, before, after int) error {
	fmt.Fprintf(out, "people active: reference period %d, studied period %d\n\n", before, after)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "persona\tpeople before\tpeople after\tsize change\tshare before\tshare after\t")
	for _, d := range ds {
		change := "new"
		if !math.IsNaN(d.SizeChange) {
			change = fmt.Sprintf("%+.1f%%", 100*d.SizeChange)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.1f%%\t%.1f%%\t\n", d.Persona, d.Before.People, d.After.People, change,
			100*d.Before.Share, 100*d.After.Share)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, d := range ds {
		if len(d.Shifts) == 0 {
			continue
		}
		fmt.Fprintf(out, "\n▸ %s: behaviour that moved most\n", d.Persona)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  feature\tbefore\tafter\tshift (sd)")
		for _, t := range d.Shifts {
			fmt.Fprintf(tw, "  %s\t%.3g\t%.3g\t%+.2f\n", t.Feature, t.Population, t.Cluster, t.Effect)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
