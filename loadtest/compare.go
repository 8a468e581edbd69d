package loadtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxResultFile bounds a result file read by compare.
const maxResultFile = 16 << 20

// compareCommand implements `conclave loadtest compare`: it reads result
// files of repeated runs of the same scenarios on several servers and
// writes a side-by-side report with medians, spreads and ratios.
func compareCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write report.md and plot.svg")
	base := fs.String("base", ServerLiveKit, "server the ratios are relative to")
	title := fs.String("title", "Conclave and LiveKit side by side", "report title")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("loadtest compare: give result files")
	}
	var results []*Result
	var sweeps []*Sweep
	for _, path := range fs.Args() {
		r, s, err := loadResultFile(path)
		if err != nil {
			return err
		}
		if r != nil {
			results = append(results, r)
		}
		if s != nil {
			sweeps = append(sweeps, s)
		}
	}
	results, sweeps = sweepLabelled(results, sweeps)
	md := Compare(*title, *base, results, sweeps)
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return fmt.Errorf("loadtest compare: %w", err)
		}
		if len(sweeps) > 0 {
			for _, sc := range sweepScenarios(sweeps) {
				name := "plot-" + sc + ".svg"
				if err := os.WriteFile(filepath.Join(*out, name), []byte(PlotSVG(medianSweeps(sweeps, sc))), 0o644); err != nil {
					return fmt.Errorf("loadtest compare: %w", err)
				}
				md += fmt.Sprintf("\n![%s: p99 latency and server CPU against participants](%s)\n", sc, name)
			}
		}
		if err := os.WriteFile(filepath.Join(*out, "report.md"), []byte(md), 0o644); err != nil {
			return fmt.Errorf("loadtest compare: %w", err)
		}
	}
	_, err := io.WriteString(stdout, md)
	return err
}

// loadResultFile reads a Result or a Sweep.
func loadResultFile(path string) (*Result, *Sweep, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("loadtest compare: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxResultFile+1))
	if err != nil {
		return nil, nil, fmt.Errorf("loadtest compare: %s: %w", path, err)
	}
	if len(data) > maxResultFile {
		return nil, nil, fmt.Errorf("loadtest compare: %s: larger than %d bytes", path, maxResultFile)
	}
	if bytes.Contains(data, []byte(`"points"`)) {
		var s Sweep
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, nil, fmt.Errorf("loadtest compare: %s: %w", path, err)
		}
		return nil, &s, nil
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, nil, fmt.Errorf("loadtest compare: %s: %w", path, err)
	}
	return &r, nil, nil
}

type groupKey struct {
	scenario                string
	publishers, subscribers int
}

// Compare renders results of several servers side by side: for each
// scenario and size, the median of each figure over the repeats with its
// range, and the ratio of each server's median to base's.
func Compare(title, base string, results []*Result, sweeps []*Sweep) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", title)
	b.WriteString("Each cell is the median over repeated runs, with the range [min-max] and the number of runs.\n")
	fmt.Fprintf(&b, "Ratios are each server's median divided by %s's; for figures marked (+) higher is better, (-) lower is better.\n", base)
	b.WriteString("Beside a ratio, p is the two-sided Mann-Whitney test of the runs against the base's: above 0.05, these runs cannot tell\n")
	b.WriteString("the two servers apart on that figure (three runs against three never can: their smallest p is 0.1).\n\n")

	groups := map[groupKey]map[string][]*Result{}
	for _, r := range results {
		k := groupKey{r.Scenario, r.Publishers, r.Subscribers}
		if groups[k] == nil {
			groups[k] = map[string][]*Result{}
		}
		groups[k][r.Server] = append(groups[k][r.Server], r)
	}
	keys := slices.SortedFunc(maps.Keys(groups), func(a, b groupKey) int {
		if c := strings.Compare(scenarioOrder(a.scenario), scenarioOrder(b.scenario)); c != 0 {
			return c
		}
		if a.publishers != b.publishers {
			return a.publishers - b.publishers
		}
		return a.subscribers - b.subscribers
	})
	for _, k := range keys {
		byServer := groups[k]
		servers := slices.Sorted(maps.Keys(byServer))
		fmt.Fprintf(&b, "## %s: %d publishers + %d subscribers\n\n", k.scenario, k.publishers, k.subscribers)
		b.WriteString("| figure |")
		for _, s := range servers {
			fmt.Fprintf(&b, " %s |", s)
		}
		for _, s := range servers {
			if s != base {
				fmt.Fprintf(&b, " %s / %s |", s, base)
			}
		}
		b.WriteString("\n|---|")
		for range servers {
			b.WriteString("---:|")
		}
		for _, s := range servers {
			if s != base {
				b.WriteString("---:|")
			}
		}
		b.WriteString("\n")
		for _, m := range metrics {
			sign := map[int]string{1: " (+)", -1: " (-)", 0: ""}[m.better]
			fmt.Fprintf(&b, "| %s%s |", m.label(), sign)
			med := map[string]float64{}
			runs := map[string][]float64{}
			for _, s := range servers {
				vals := values(byServer[s], m)
				if len(vals) == 0 {
					b.WriteString(" n/a |")
					continue
				}
				runs[s] = vals
				med[s] = quantile(vals, 0.5)
				fmt.Fprintf(&b, " "+m.format+" ["+m.format+"-"+m.format+"] n=%d |", med[s], quantile(vals, 0), quantile(vals, 1), len(vals))
			}
			for _, s := range servers {
				if s == base {
					continue
				}
				if _, ok := med[s]; !ok {
					b.WriteString(" - |")
				} else if _, ok := med[base]; ok {
					fmt.Fprintf(&b, " %s |", ratioText(runs[s], runs[base], m.better != 0))
				} else {
					b.WriteString(" - |")
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	for _, sc := range sweepScenarios(sweeps) {
		ms := medianSweeps(sweeps, sc)
		fmt.Fprintf(&b, "## Scaling: %s (medians per size)\n\n", sc)
		b.WriteString("| server | participants | fwd pkt/s | pkt per CPU-s | server CPU (cores) | p50 ms | p99 ms | loss | J2FF ms | RSS/participant MiB | loadgen CPU |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range ms {
			for _, r := range s.Points {
				fmt.Fprintf(&b, "| %s | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.5f | %.0f | %.1f | %.2f |\n",
					s.Server, r.Participants, r.ForwardedPacketsPerSecond, r.ForwardedPacketsPerCPUSecond, r.ServerCPUCores,
					r.P50LatencyMS, r.P99LatencyMS, r.LossRatio, r.JoinToFirstFrameMS, r.RSSPerParticipantBytes/(1<<20), r.LoadGenCPUCores)
			}
		}
		b.WriteString("\n")
		sweepRatios(&b, base, sweepRuns(sweeps, sc))
	}
	return b.String()
}

// sweepRatios writes, for each size of a sweep and each server but base,
// the ratios of its medians to base's of the two figures the scaling is
// about, with the p-value of its runs against base's (when both repeated).
func sweepRatios(b *strings.Builder, base string, runs map[string]map[int][]*Result) {
	if runs[base] == nil || len(runs) < 2 {
		return
	}
	ratio := func(get func(*Result) float64, rs, bs []*Result) string {
		return ratioText(values(rs, metric{get: get}), values(bs, metric{get: get}), true)
	}
	fmt.Fprintf(b, "Ratios to %s per size (p: Mann-Whitney over the runs at that size):\n\n", base)
	b.WriteString("| server | participants | runs | pkt per CPU-s (+) | p99 latency (-) |\n|---|---:|---|---:|---:|\n")
	for _, server := range slices.Sorted(maps.Keys(runs)) {
		if server == base {
			continue
		}
		for _, n := range slices.Sorted(maps.Keys(runs[server])) {
			rs, bs := runs[server][n], runs[base][n]
			if len(bs) == 0 {
				continue
			}
			fmt.Fprintf(b, "| %s | %d | %d vs %d | %s | %s |\n", server, n, len(rs), len(bs),
				ratio(func(r *Result) float64 { return r.ForwardedPacketsPerCPUSecond }, rs, bs),
				ratio(func(r *Result) float64 { return r.P99LatencyMS }, rs, bs))
		}
	}
	b.WriteString("\n")
}

// ratioText is the median of v over the median of base ("-" when that is
// 0), and, when test is set and both repeated, the two-sided Mann-Whitney p
// of v against base.
func ratioText(v, base []float64, test bool) string {
	bm := quantile(base, 0.5)
	if bm == 0 {
		return "-"
	}
	out := fmt.Sprintf("%.2f", quantile(v, 0.5)/bm)
	if test && len(v) > 1 && len(base) > 1 {
		out += fmt.Sprintf(" (p %.2f)", rankSumP(v, base))
	}
	return out
}

func scenarioOrder(s string) string {
	if i := slices.Index(Scenarios, s); i >= 0 {
		return fmt.Sprintf("%02d", i)
	}
	return "99" + s
}

func values(rs []*Result, m metric) []float64 {
	out := make([]float64, 0, len(rs))
	for _, r := range rs {
		if m.present(r) {
			out = append(out, m.get(r))
		}
	}
	return out
}

func sweepScenarios(sweeps []*Sweep) []string {
	set := map[string]bool{}
	for _, s := range sweeps {
		set[s.Scenario] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// medianSweeps merges the repeated sweeps of one scenario into one sweep
// per server whose points are field-wise medians of the repeats.
func medianSweeps(sweeps []*Sweep, scenario string) []*Sweep {
	byServer := sweepRuns(sweeps, scenario)
	var out []*Sweep
	for _, server := range slices.Sorted(maps.Keys(byServer)) {
		sw := &Sweep{Server: server, Scenario: scenario}
		for _, n := range slices.Sorted(maps.Keys(byServer[server])) {
			sw.Points = append(sw.Points, medianResult(byServer[server][n]))
		}
		out = append(out, sw)
	}
	return out
}

// sweepRuns gathers the points of one scenario's sweeps by server and
// meeting size.
func sweepRuns(sweeps []*Sweep, scenario string) map[string]map[int][]*Result {
	byServer := map[string]map[int][]*Result{}
	for _, s := range sweeps {
		if s.Scenario != scenario {
			continue
		}
		if byServer[s.Server] == nil {
			byServer[s.Server] = map[int][]*Result{}
		}
		for _, p := range s.Points {
			byServer[s.Server][p.Participants] = append(byServer[s.Server][p.Participants], p)
		}
	}
	return byServer
}

// medianResult is a Result whose plotted and tabulated figures are the
// medians of rs.
func medianResult(rs []*Result) *Result {
	m := *rs[0]
	med := func(get func(*Result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		return quantile(v, 0.5)
	}
	m.ForwardedPacketsPerSecond = med(func(r *Result) float64 { return r.ForwardedPacketsPerSecond })
	m.ForwardedPacketsPerCPUSecond = med(func(r *Result) float64 { return r.ForwardedPacketsPerCPUSecond })
	m.ServerCPUCores = med(func(r *Result) float64 { return r.ServerCPUCores })
	m.P50LatencyMS = med(func(r *Result) float64 { return r.P50LatencyMS })
	m.P99LatencyMS = med(func(r *Result) float64 { return r.P99LatencyMS })
	m.LossRatio = med(func(r *Result) float64 { return r.LossRatio })
	m.JoinToFirstFrameMS = med(func(r *Result) float64 { return r.JoinToFirstFrameMS })
	m.RSSPerParticipantBytes = med(func(r *Result) float64 { return r.RSSPerParticipantBytes })
	m.LoadGenCPUCores = med(func(r *Result) float64 { return r.LoadGenCPUCores })
	return &m
}

// SweepLabel marks single runs that are points of a sweep (--label sweep):
// compare plots them as a curve per server instead of tabulating each size,
// which lets a script interleave the servers size by size.
const SweepLabel = "sweep"

func sweepLabelled(results []*Result, sweeps []*Sweep) ([]*Result, []*Sweep) {
	var rest []*Result
	by := map[[2]string]*Sweep{}
	var order [][2]string
	for _, r := range results {
		if r.Label != SweepLabel {
			rest = append(rest, r)
			continue
		}
		k := [2]string{r.Server, r.Scenario}
		if by[k] == nil {
			by[k] = &Sweep{Server: r.Server, Scenario: r.Scenario}
			order = append(order, k)
		}
		by[k].Points = append(by[k].Points, r)
	}
	for _, k := range order {
		sweeps = append(sweeps, by[k])
	}
	return rest, sweeps
}
