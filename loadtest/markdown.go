package loadtest

import (
	"fmt"
	"strings"
)

// metric is one figure of a Result as reports show it.
type metric struct {
	name string
	unit string
	// better is +1 when higher is better, -1 when lower is, 0 for neither.
	better int
	get    func(*Result) float64
	format string
}

var metrics = []metric{
	{"forwarded packets/s", "", +1, func(r *Result) float64 { return r.ForwardedPacketsPerSecond }, "%.0f"},
	{"forwarded Mbit/s", "", +1, func(r *Result) float64 { return r.ForwardedBitsPerSecond / 1e6 }, "%.1f"},
	{"forwarded packets per CPU-second", "", +1, func(r *Result) float64 { return r.ForwardedPacketsPerCPUSecond }, "%.0f"},
	{"server CPU-s per million packets", "s", -1, func(r *Result) float64 { return r.CPUSecondsPerMillionPackets }, "%.1f"},
	{"server CPU", "cores", -1, func(r *Result) float64 { return r.ServerCPUCores }, "%.2f"},
	{"server RSS per participant", "MiB", -1, func(r *Result) float64 { return r.RSSPerParticipantBytes / (1 << 20) }, "%.1f"},
	{"p50 latency", "ms", -1, func(r *Result) float64 { return r.P50LatencyMS }, "%.2f"},
	{"p95 latency", "ms", -1, func(r *Result) float64 { return r.P95LatencyMS }, "%.2f"},
	{"p99 latency", "ms", -1, func(r *Result) float64 { return r.P99LatencyMS }, "%.2f"},
	{"loss ratio", "", -1, func(r *Result) float64 { return r.LossRatio }, "%.5f"},
	{"join to first frame (median)", "ms", -1, func(r *Result) float64 { return r.JoinToFirstFrameMS }, "%.0f"},
	{"join to first frame (p95)", "ms", -1, func(r *Result) float64 { return r.JoinToFirstFrameP95 }, "%.0f"},
	{"decrypt failures", "", -1, func(r *Result) float64 { return float64(r.DecryptFailures) }, "%.0f"},
	{"missing streams", "", -1, func(r *Result) float64 { return float64(r.MissingStreams) }, "%.0f"},
	{"join failures", "", -1, func(r *Result) float64 { return float64(r.JoinFailures + r.ChurnJoinFailures) }, "%.0f"},
	{"load generator CPU", "cores", 0, func(r *Result) float64 { return r.LoadGenCPUCores }, "%.2f"},
	{"machine load average", "", 0, func(r *Result) float64 { return r.LoadAverage }, "%.1f"},
}

func (m metric) label() string {
	if m.unit == "" {
		return m.name
	}
	return m.name + " (" + m.unit + ")"
}

func describe(r *Result) string {
	return fmt.Sprintf("%s, %d publishers + %d subscribers", r.Scenario, r.Publishers, r.Subscribers)
}

// MarkdownResult renders one run.
func MarkdownResult(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Load test: %s on %s\n\n", describe(r), r.Server)
	fmt.Fprintf(&b, "Started %s; warm-up %.0f s, window %.1f s.\n\n", r.Started.Format("2006-01-02 15:04:05 UTC"), r.WarmupS, r.WindowS)
	b.WriteString("| figure | value |\n|---|---:|\n")
	for _, m := range metrics {
		fmt.Fprintf(&b, "| %s | "+m.format+" |\n", m.label(), m.get(r))
	}
	fmt.Fprintf(&b, "| forwarded packets in window | %d |\n", r.ForwardedPackets)
	fmt.Fprintf(&b, "| video frames received, low / medium / high | %d / %d / %d |\n", r.VideoFramesByLayer[0], r.VideoFramesByLayer[1], r.VideoFramesByLayer[2])
	fmt.Fprintf(&b, "| server RSS (MiB) | %.1f |\n", float64(r.ServerRSSBytes)/(1<<20))
	fmt.Fprintf(&b, "| join span (ms) | %.0f |\n", r.JoinSpanMS)
	if r.ChurnLeaves > 0 {
		fmt.Fprintf(&b, "| churn leaves / joins | %d / %d |\n", r.ChurnLeaves, r.ChurnJoins)
		fmt.Fprintf(&b, "| churn join to first frame, median (ms) | %.0f |\n", r.ChurnJoinToFirstP50MS)
	}
	fmt.Fprintf(&b, "| load generator goroutines per bot | %.1f |\n", r.LoadGenGoroutinesPerBot)
	fmt.Fprintf(&b, "| load generator heap per bot (KiB) | %.0f |\n", r.LoadGenHeapPerBotBytes/1024)
	return b.String()
}

// MarkdownSweep renders a sweep as one table row per size.
func MarkdownSweep(s *Sweep) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Load test sweep: %s on %s\n\n", s.Scenario, s.Server)
	b.WriteString("| participants | fwd pkt/s | pkt per CPU-s | server CPU (cores) | p50 ms | p99 ms | loss | J2FF ms | RSS/participant MiB | loadgen CPU |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range s.Points {
		fmt.Fprintf(&b, "| %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.5f | %.0f | %.1f | %.2f |\n",
			r.Participants, r.ForwardedPacketsPerSecond, r.ForwardedPacketsPerCPUSecond, r.ServerCPUCores,
			r.P50LatencyMS, r.P99LatencyMS, r.LossRatio, r.JoinToFirstFrameMS,
			r.RSSPerParticipantBytes/(1<<20), r.LoadGenCPUCores)
	}
	return b.String()
}
