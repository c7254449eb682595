package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints the report as an aligned table, then where the load's time went.
func (r *Report) WriteTable(w io.Writer) error {
	latency := "answering in about 1 ms"
	if r.OrgLatency > 0 {
		latency = fmt.Sprintf("%v added to every API call", r.OrgLatency)
	}
	fmt.Fprintf(w, "\npgforce bench — %s, %s, %d rows, %d samples, backlog %d, polling every %v, simulated org %s, took %v\n\n",
		r.Started.Format(time.RFC3339), r.Machine, r.Rows, r.Samples, r.Backlog, r.Interval, latency, r.Took.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tmeasured\treference (same run)\tgoal\tmet")
	for _, f := range r.Figures {
		met := "no"
		if f.Met {
			met = "yes"
		}
		if f.Measured == "failed" {
			met = "failed: " + f.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Name, f.Measured, dash(f.Reference), f.Goal, met)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, f := range r.Figures {
		if f.Note != "" && f.Measured != "failed" {
			notes = append(notes, fmt.Sprintf("- %s: %s", f.Name, f.Note))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(notes, "\n"))
	}
	if len(r.LoadBreakdown) > 0 {
		fmt.Fprintln(w, "\nwhere the initial load's time went:")
		for _, p := range r.LoadBreakdown {
			fmt.Fprintf(w, "  %-48s %8.2f s\n", p.Name, p.Took.Seconds())
		}
	}
	if len(r.LoadRSS) > 0 {
		fmt.Fprintf(w, "\nresident set size during the initial load of %d rows (MiB; the JSON report has every sample):\n", r.Rows)
		for _, s := range spread(r.LoadRSS, 12) {
			org := ""
			if s.Org > 0 {
				org = fmt.Sprintf(", org %5d", s.Org>>20)
			}
			fmt.Fprintf(w, "  %7.1f s  pgforce %4d%s\n", s.At.Seconds(), s.PGForce>>20, org)
		}
	}
	return nil
}

// spread picks at most n samples, evenly spaced, the first and the last among them.
func spread(samples []RSSSample, n int) []RSSSample {
	if len(samples) <= n {
		return samples
	}
	out := make([]RSSSample, n)
	for i := range out {
		out[i] = samples[i*(len(samples)-1)/(n-1)]
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// WriteJSON writes the report for scripts and comparisons between runs.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
