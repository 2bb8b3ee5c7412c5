package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/journeys-analytics/journeys/aggregate"
	"github.com/journeys-analytics/journeys/config"
)

func (a *app) newReportCmd() *cobra.Command {
	var (
		journey, persona, from, to, format string
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Print the journey map with its KPIs: per persona and stage, reach, conversion, drop-off, time to convert",
		Long: `report reads ClickHouse (stage_conversion_daily and customer_stage_progress, the
same views an analyst queries) and prints, per journey, persona and stage: the
customers that first reached the stage in the date range, how many went on to a
later stage, the drop-off, and the median and 90th percentile time to the next
stage. --from and --to are UTC days (YYYY-MM-DD), both inclusive; empty means
unbounded. --format table (default), json or csv.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := dayFilter(from, to, "from", "to")
			if err != nil {
				return err
			}
			f.Journey, f.Persona = journey, persona
			switch format {
			case "table", "json", "csv":
			default:
				return fmt.Errorf("--format %q: want table, json or csv", format)
			}
			store, err := a.openReadStore(cmd)
			if err != nil {
				return err
			}
			defer store.Close()
			cells, err := store.JourneyMap(cmd.Context(), f)
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			return writeMapCells(a.stdout, format, cells)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&journey, "journey", "", "journey to report (default: all)")
	fl.StringVar(&persona, "persona", "", "persona to report (default: all)")
	fl.StringVar(&from, "from", "", "first UTC day, YYYY-MM-DD (default: unbounded)")
	fl.StringVar(&to, "to", "", "last UTC day, YYYY-MM-DD, inclusive (default: unbounded)")
	fl.StringVar(&format, "format", "table", "output format: table, json or csv")
	config.RegisterFlags(fl)
	return cmd
}

// openReadStore loads the configuration from the command's flags and opens
// the store without migrating: a reader must not need DDL rights.
func (a *app) openReadStore(cmd *cobra.Command) (*aggregate.Store, error) {
	cfg, err := a.loadConfig(cmd.Flags())
	if err != nil {
		return nil, err
	}
	if err := cfg.RequireClickHouse(); err != nil {
		return nil, err
	}
	log := newLogger(a.stderr, cfg.Log)
	return aggregate.Open(cmd.Context(), aggregateConfig(cfg), log, newRegistry())
}

func parseDay(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: want a day as YYYY-MM-DD", name, s)
	}
	return t, nil
}

// mapCellJSON is the stable external form of a journey-map cell; times are
// null when nobody progressed.
type mapCellJSON struct {
	Journey        string   `json:"journey"`
	Persona        string   `json:"persona"`
	StageIndex     uint8    `json:"stage_index"`
	Stage          string   `json:"stage"`
	Reached        uint64   `json:"reached"`
	Progressed     uint64   `json:"progressed"`
	DroppedOff     uint64   `json:"dropped_off"`
	ConversionRate float64  `json:"conversion_rate"`
	DropOffRate    float64  `json:"drop_off_rate"`
	P50Seconds     *float64 `json:"p50_seconds_to_next_stage"`
	P90Seconds     *float64 `json:"p90_seconds_to_next_stage"`
}

var mapCSVHeader = []string{"journey", "persona", "stage_index", "stage", "reached", "progressed",
	"dropped_off", "conversion_rate", "drop_off_rate", "p50_seconds_to_next_stage", "p90_seconds_to_next_stage"}

func writeMapCells(out io.Writer, format string, cells []aggregate.MapCell) error {
	switch format {
	case "json":
		rows := make([]mapCellJSON, len(cells))
		for i, c := range cells {
			rows[i] = mapCellJSON{c.Journey, c.Persona, c.StageIndex, c.Stage, c.Reached, c.Progressed,
				c.DroppedOff, c.ConversionRate, c.DropOffRate, nil, nil}
			if c.HasTimes {
				rows[i].P50Seconds, rows[i].P90Seconds = &c.P50Seconds, &c.P90Seconds
			}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	case "csv":
		w := csv.NewWriter(out)
		_ = w.Write(mapCSVHeader)
		num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
		for _, c := range cells {
			p50, p90 := "", ""
			if c.HasTimes {
				p50, p90 = num(c.P50Seconds), num(c.P90Seconds)
			}
			_ = w.Write([]string{c.Journey, c.Persona, strconv.Itoa(int(c.StageIndex)), c.Stage,
				strconv.FormatUint(c.Reached, 10), strconv.FormatUint(c.Progressed, 10),
				strconv.FormatUint(c.DroppedOff, 10), num(c.ConversionRate), num(c.DropOffRate), p50, p90})
		}
		w.Flush()
		return w.Error()
	default:
		return writeMapTable(out, cells, nil)
	}
}

// writeMapTable prints one table per journey, in the order of journeys (the
// journey map's) and then any other journey found in cells.
func writeMapTable(out io.Writer, cells []aggregate.MapCell, journeys []string) error {
	byJourney := map[string][]aggregate.MapCell{}
	for _, c := range cells {
		if _, ok := byJourney[c.Journey]; !ok && !slices.Contains(journeys, c.Journey) {
			journeys = append(journeys, c.Journey)
		}
		byJourney[c.Journey] = append(byJourney[c.Journey], c)
	}
	if len(journeys) == 0 {
		_, err := fmt.Fprintln(out, "no customers reached any stage with these filters")
		return err
	}
	for _, j := range journeys {
		fmt.Fprintf(out, "\n━━ journey %s ━━ (customers reaching each stage; progressed = went on to a later stage)\n", j)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "persona\tstage\treached\tprogressed\tdropped off\tconversion\tdrop-off\tmedian to next\tp90 to next\t")
		persona := ""
		for _, c := range byJourney[j] {
			name := c.Persona
			if name == persona {
				name = ""
			}
			persona = c.Persona
			p50, p90 := "-", "-"
			if c.HasTimes {
				p50, p90 = humanSeconds(c.P50Seconds), humanSeconds(c.P90Seconds)
			}
			fmt.Fprintf(tw, "%s\t%d %s\t%d\t%d\t%d\t%.1f%%\t%.1f%%\t%s\t%s\t\n", name, c.StageIndex, c.Stage,
				c.Reached, c.Progressed, c.DroppedOff, 100*c.ConversionRate, 100*c.DropOffRate, p50, p90)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// humanSeconds rounds a duration for reading: to the minute below a day, to
// the hour above.
func humanSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	neg := d < 0
	if neg {
		d = -d
	}
	var txt string
	switch {
	case d >= 24*time.Hour:
		d = d.Round(time.Hour)
		txt = fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Minute:
		txt = d.Round(time.Minute).String()
		txt = txt[:len(txt)-2] // "1h5m0s" → "1h5m"
	default:
		txt = d.Round(time.Second).String()
	}
	if neg {
		return "-" + txt
	}
	return txt
}
