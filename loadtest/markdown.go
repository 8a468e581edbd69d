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
	// has says whether r has the figure at all (nil: always); reports
	// show "n/a" otherwise.
	has func(*Result) bool
	// compareOnly: a run's own report shows the figure in another row.
	compareOnly bool
}

// rotationAfter is the key-rotation median after one kind of change.
func rotationAfter(kind string) metric {
	return metric{
		name: "key rotation after a " + kind + ", median", unit: "ms", better: -1, format: "%.0f", compareOnly: true,
		get: func(r *Result) float64 { return r.KeyRotationByEventMS[kind].P50 },
		has: func(r *Result) bool { s := r.KeyRotationByEventMS[kind]; return s != nil && s.Count > 0 },
	}
}

// hasRotation: the run measured key rotations (MLS keying, and some
// membership change happened in the window).
func hasRotation(r *Result) bool { return r.KeyRotationMS != nil && r.KeyRotationMS.Count > 0 }

func (m metric) present(r *Result) bool { return m.has == nil || m.has(r) }

var metrics = []metric{
	{"forwarded packets/s", "", +1, func(r *Result) float64 { return r.ForwardedPacketsPerSecond }, "%.0f", nil, false},
	{"forwarded Mbit/s", "", +1, func(r *Result) float64 { return r.ForwardedBitsPerSecond / 1e6 }, "%.1f", nil, false},
	{"forwarded packets per CPU-second", "", +1, func(r *Result) float64 { return r.ForwardedPacketsPerCPUSecond }, "%.0f", nil, false},
	{"forwarded packets per user-space CPU-second", "", +1, func(r *Result) float64 { return r.ForwardedPacketsPerUserCPUSecond }, "%.0f", nil, false},
	{"server CPU-s per million packets", "s", -1, func(r *Result) float64 { return r.CPUSecondsPerMillionPackets }, "%.1f", nil, false},
	{"server CPU", "cores", -1, func(r *Result) float64 { return r.ServerCPUCores }, "%.2f", nil, false},
	{"server RSS per participant", "MiB", -1, func(r *Result) float64 { return r.RSSPerParticipantBytes / (1 << 20) }, "%.1f", nil, false},
	{"p50 latency", "ms", -1, func(r *Result) float64 { return r.P50LatencyMS }, "%.2f", nil, false},
	{"p95 latency", "ms", -1, func(r *Result) float64 { return r.P95LatencyMS }, "%.2f", nil, false},
	{"p99 latency", "ms", -1, func(r *Result) float64 { return r.P99LatencyMS }, "%.2f", nil, false},
	{"loss ratio", "", -1, func(r *Result) float64 { return r.LossRatio }, "%.5f", nil, false},
	{"join to first frame (median)", "ms", -1, func(r *Result) float64 { return r.JoinToFirstFrameMS }, "%.0f", nil, false},
	{"join to first frame (p95)", "ms", -1, func(r *Result) float64 { return r.JoinToFirstFrameP95 }, "%.0f", nil, false},
	{"key rotation, median", "ms", -1, func(r *Result) float64 { return r.KeyRotationMS.P50 }, "%.0f", hasRotation, false},
	{"key rotation, p95", "ms", -1, func(r *Result) float64 { return r.KeyRotationMS.P95 }, "%.0f", hasRotation, false},
	rotationAfter(eventJoin),
	rotationAfter(eventLeave),
	rotationAfter(eventVanish),
	{"decrypt failures", "", -1, func(r *Result) float64 { return float64(r.DecryptFailures) }, "%.0f", nil, false},
	{"frames held for their key", "", 0, func(r *Result) float64 { return float64(r.FramesHeld) }, "%.0f", nil, false},
	{"keyframes sent by publishers", "", 0, func(r *Result) float64 { return float64(r.KeyframesSent) }, "%.0f", nil, false},
	{"keyframe requests to publishers", "", 0, func(r *Result) float64 { return float64(r.KeyframeRequests) }, "%.0f", nil, false},
	{"missing streams", "", -1, func(r *Result) float64 { return float64(r.MissingStreams) }, "%.0f", nil, false},
	{"join failures", "", -1, func(r *Result) float64 { return float64(r.JoinFailures + r.ChurnJoinFailures) }, "%.0f", nil, false},
	{"load generator CPU", "cores", 0, func(r *Result) float64 { return r.LoadGenCPUCores }, "%.2f", nil, false},
	{"machine load average", "", 0, func(r *Result) float64 { return r.LoadAverage }, "%.1f", nil, false},
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
		if m.compareOnly {
			continue
		}
		if !m.present(r) {
			fmt.Fprintf(&b, "| %s | %s |\n", m.label(), notAvailable(r))
			continue
		}
		fmt.Fprintf(&b, "| %s | "+m.format+" |\n", m.label(), m.get(r))
	}
	b.WriteString(rotationRows(r))
	fmt.Fprintf(&b, "| frames held then dropped (key never came) | %d |\n", r.FramesHeldDropped)
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

// notAvailable says why a run lacks a figure.
func notAvailable(r *Result) string {
	if r.KeyRotationMS == nil {
		return "n/a (no MLS)"
	}
	return "n/a (no membership change)"
}

// rotationRows are the key-rotation rows of a run's table: overall and per
// kind of membership change.
func rotationRows(r *Result) string {
	if r.KeyRotationMS == nil {
		return "| key rotation (ms), changes x receivers / median / p95 / max | n/a (no MLS) |\n"
	}
	var b strings.Builder
	row := func(what string, s *MSStats) {
		if s == nil || s.Count == 0 {
			fmt.Fprintf(&b, "| key rotation%s (ms), changes x receivers / median / p95 / max | 0 / - / - / - |\n", what)
			return
		}
		fmt.Fprintf(&b, "| key rotation%s (ms), changes x receivers / median / p95 / max | %d / %.0f / %.0f / %.0f |\n", what, s.Count, s.P50, s.P95, s.Max)
	}
	row("", r.KeyRotationMS)
	for _, k := range []string{eventLeave, eventVanish, eventJoin} {
		if s := r.KeyRotationByEventMS[k]; s != nil {
			row(" after a "+k, s)
		}
	}
	fmt.Fprintf(&b, "| key rotation pending at the end (changes x receivers) | %d |\n", r.KeyRotationPending)
	return b.String()
}
