package loadtest

import "time"

// Result is the report of one run. Its JSON form is what
// `conclave loadtest --json` prints: one object.
type Result struct {
	Server       string    `json:"server"`
	Label        string    `json:"label,omitempty"`
	Scenario     string    `json:"scenario"`
	Keying       string    `json:"keying"`
	Started      time.Time `json:"started"`
	Publishers   int       `json:"publishers"`
	Subscribers  int       `json:"subscribers"`
	Participants int       `json:"participants"`
	WarmupS      float64   `json:"warmup_s"`
	WindowS      float64   `json:"window_s"`

	// Joining.
	JoinFailures        int     `json:"join_failures"`
	RateLimitedRetries  int     `json:"rate_limited_retries"`
	JoinSpanMS          float64 `json:"join_span_ms"` // first join started to last joined
	ConnectP50MS        float64 `json:"connect_p50_ms"`
	ConnectMaxMS        float64 `json:"connect_max_ms"`
	JoinToFirstFrameMS  float64 `json:"join_to_first_frame_ms"` // median over bots that received
	JoinToFirstFrameP95 float64 `json:"join_to_first_frame_p95_ms"`
	JoinToFirstFrameMax float64 `json:"join_to_first_frame_max_ms"`
	BotsWithoutFrames   int     `json:"bots_without_frames"`

	// Forwarding, over the window.
	ForwardedPackets             uint64  `json:"forwarded_packets"`
	ForwardedPacketsPerSecond    float64 `json:"forwarded_packets_per_second"`
	ForwardedBitsPerSecond       float64 `json:"forwarded_bits_per_second"`
	ServerCPUSeconds             float64 `json:"server_cpu_seconds"`
	ServerCPUCores               float64 `json:"server_cpu_cores"`
	ForwardedPacketsPerCPUSecond float64 `json:"forwarded_packets_per_cpu_second"`
	// ServerUserCPUSeconds is the part of ServerCPUSeconds spent in the
	// server's own code; the rest is the kernel's (on loopback that
	// includes delivering each datagram into the receiver's socket, the
	// same work for any server).
	ServerUserCPUSeconds             float64 `json:"server_user_cpu_seconds"`
	ForwardedPacketsPerUserCPUSecond float64 `json:"forwarded_packets_per_user_cpu_second"`
	CPUSecondsPerMillionPackets      float64 `json:"cpu_seconds_per_million_packets"`
	ServerRSSBytes                   uint64  `json:"server_rss_bytes"`
	ServerRSSBaselineBytes           uint64  `json:"server_rss_baseline_bytes"`
	RSSPerParticipantBytes           float64 `json:"rss_per_participant_bytes"`

	// Media quality, over the window.
	FramesDecrypted uint64  `json:"frames_decrypted"`
	FramesLost      uint64  `json:"frames_lost"`
	LossRatio       float64 `json:"loss_ratio"`
	DecryptFailures uint64  `json:"decrypt_failures"`
	// FramesHeld counts frames that reached a receiver before their key
	// (a new epoch's frames overtaking the MLS commit) and were held until
	// it was installed; FramesHeldDropped those whose key never came in
	// time. Over the whole run, like DecryptFailures; neither is one.
	FramesHeld        uint64 `json:"frames_held"`
	FramesHeldDropped uint64 `json:"frames_held_dropped"`
	// KeyframesSent counts the keyframes publishers sent in the measured
	// window, KeyframeRequests the PLIs and FIRs they received: a server
	// that asks for more keyframes makes more large frames, which show in
	// the latency tail.
	KeyframesSent    uint64 `json:"keyframes_sent"`
	KeyframeRequests uint64 `json:"keyframe_requests"`
	// VideoFramesByLayer counts received video frames of the low, medium
	// and high layers: a server that forwards less than asked shows here.
	VideoFramesByLayer [3]uint64 `json:"video_frames_by_layer"`
	P50LatencyMS       float64   `json:"p50_latency_ms"`
	P95LatencyMS       float64   `json:"p95_latency_ms"`
	P99LatencyMS       float64   `json:"p99_latency_ms"`
	MaxLatencyMS       float64   `json:"max_latency_ms"`
	// MissingStreams counts (receiver, publisher, kind) triples, among
	// participants present for the whole window, where the receiver was
	// not getting the publisher's media at the end.
	MissingStreams int `json:"missing_streams"`

	// Churn.
	ChurnLeaves           int     `json:"churn_leaves,omitempty"`
	ChurnJoins            int     `json:"churn_joins,omitempty"`
	ChurnJoinFailures     int     `json:"churn_join_failures,omitempty"`
	ChurnJoinToFirstP50MS float64 `json:"churn_join_to_first_frame_p50_ms,omitempty"`

	// KeyRotationMS is the E2EE key-rotation latency over the window:
	// for each membership change (a participant's leave request or
	// departure, a joiner's KeyPackage sent) and each receiver present
	// before it, the time until that receiver decrypted its first frame
	// under the MLS epoch that carried the change. Nil (JSON null) when
	// the bots are not MLS-keyed. KeyRotationByEventMS splits it by the
	// kind of change (leave, vanish, join); KeyRotationPending counts the
	// (change, receiver) pairs not done when the window ended, among
	// receivers still present (a departure takes the server's leave grace,
	// 5 s by default, so the last ones of a window are pending).
	KeyRotationMS        *MSStats            `json:"key_rotation_ms"`
	KeyRotationByEventMS map[string]*MSStats `json:"key_rotation_by_event_ms,omitempty"`
	KeyRotationPending   int                 `json:"key_rotation_pending"`

	// LoadAverage is the machine's one-minute load average at the end of
	// the window: on a shared machine, runs with a high value are suspect.
	LoadAverage float64 `json:"load_average"`

	// The load generator's own cost, to judge whether it limited the run.
	LoadGenCPUCores         float64 `json:"loadgen_cpu_cores"`
	LoadGenGoroutinesPerBot float64 `json:"loadgen_goroutines_per_bot"`
	LoadGenHeapPerBotBytes  float64 `json:"loadgen_heap_per_bot_bytes"`
}

// MSStats summarises durations in milliseconds (nearest-rank quantiles).
type MSStats struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	Max   float64 `json:"max"`
}

func msStats(ms []float64) *MSStats {
	return &MSStats{Count: len(ms), P50: quantile(ms, 0.5), P95: quantile(ms, 0.95), Max: quantile(ms, 1)}
}

// Sweep is a series of runs of one scenario at growing sizes.
type Sweep struct {
	Server   string    `json:"server"`
	Scenario string    `json:"scenario"`
	Points   []*Result `json:"points"`
}
