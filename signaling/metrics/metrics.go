package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// JoinResult is the outcome of one /api/join attempt: the only label value
// of conclave_join_attempts_total.
type JoinResult string

// The join outcomes.
const (
	JoinOK          JoinResult = "ok"
	JoinNotFound    JoinResult = "not_found"    // unknown, expired or malformed room
	JoinRateLimited JoinResult = "rate_limited" // the source spent its budget
	JoinBadRequest  JoinResult = "bad_request"  // malformed body, name or kind
	JoinNoCapacity  JoinResult = "no_capacity"  // every node is draining
	JoinError       JoinResult = "error"        // the server failed
)

var joinResults = []JoinResult{JoinOK, JoinNotFound, JoinRateLimited, JoinBadRequest, JoinNoCapacity, JoinError}

// Forwarding is what the media plane may count. The counters must only grow.
type Forwarding interface {
	ForwardedPackets() uint64
	ForwardedBytes() uint64
}

// PacketCounts is what the media plane may count beyond Forwarding. The
// counters must only grow.
type PacketCounts interface {
	// PacketCounts returns RTP packets received from publishers, packets
	// missing from publishers' streams on arrival, packets subscribers
	// report lost (RTCP receiver reports), and packets dropped because a
	// subscriber could not keep up.
	PacketCounts() (received, lostFromPublishers, lostToSubscribers, droppedSlow uint64)
}

// DeliveryQueues is what the E2EE delivery service reports of its queues:
// counts and byte sizes, never identities or content.
type DeliveryQueues interface {
	// QueueLengths returns, in this order: connections, messages waiting in
	// send queues, their bytes, the fullest connection's bytes, lobby
	// entries, handshake messages kept for resumption.
	QueueLengths() (conns, sendMessages, sendBytes, maxSendBytes, lobby, logMessages int)
}

// Metrics is one node's registry. A nil *Metrics ignores every call, so
// callers need no checks.
type Metrics struct {
	reg *prometheus.Registry

	joins           *prometheus.CounterVec
	meetingsCreated prometheus.Counter
	rooms           prometheus.Gauge
	participants    prometheus.Gauge
	nodes           prometheus.Gauge
	draining        prometheus.Gauge
	replaced        prometheus.Counter
	heartbeatErrors prometheus.Counter

	mu  sync.Mutex
	fwd Forwarding
	pkt PacketCounts
	dsq DeliveryQueues
}

// New returns a registry with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.joins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conclave_join_attempts_total", Help: "Join attempts on this node by outcome.",
	}, []string{"result"})
	m.meetingsCreated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "conclave_meetings_created_total", Help: "Meetings created through this node.",
	})
	m.rooms = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "conclave_rooms", Help: "Rooms running on this node.",
	})
	m.participants = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "conclave_participants", Help: "Participants connected to this node.",
	})
	m.nodes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "conclave_cluster_nodes", Help: "Live nodes in the cluster as this node sees it.",
	})
	m.draining = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "conclave_node_draining", Help: "1 while this node takes no new meetings.",
	})
	m.replaced = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "conclave_rooms_replaced_total", Help: "Rooms of dead nodes this node placed again.",
	})
	m.heartbeatErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "conclave_heartbeat_errors_total", Help: "Failed cluster heartbeats.",
	})
	fwdPackets := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "conclave_forwarded_packets_total", Help: "RTP packets forwarded by the SFU (0 if it does not count them).",
	}, func() float64 { return m.forwarded(Forwarding.ForwardedPackets) })
	fwdBytes := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "conclave_forwarded_bytes_total", Help: "RTP bytes forwarded by the SFU (0 if it does not count them).",
	}, func() float64 { return m.forwarded(Forwarding.ForwardedBytes) })
	pktCounter := func(name, help string, pick func(rcv, lin, lout, drop uint64) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 {
			m.mu.Lock()
			src := m.pkt
			m.mu.Unlock()
			if src == nil {
				return 0
			}
			return float64(pick(src.PacketCounts()))
		})
	}
	m.reg.MustRegister(
		pktCounter("conclave_received_packets_total", "RTP packets the SFU received from publishers.",
			func(rcv, _, _, _ uint64) uint64 { return rcv }),
		pktCounter("conclave_lost_packets_from_publishers_total", "RTP sequence numbers missing from publishers' streams on arrival at the SFU.",
			func(_, lin, _, _ uint64) uint64 { return lin }),
		pktCounter("conclave_lost_packets_to_subscribers_total", "RTP packets subscribers report lost in RTCP receiver reports.",
			func(_, _, lout, _ uint64) uint64 { return lout }),
		pktCounter("conclave_dropped_packets_slow_subscribers_total", "RTP packets not forwarded because a subscriber could not keep up.",
			func(_, _, _, drop uint64) uint64 { return drop }),
	)
	dsGauge := func(name, help string, pick func(c, sm, sb, mx, lobby, lm int) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			m.mu.Lock()
			src := m.dsq
			m.mu.Unlock()
			if src == nil {
				return 0
			}
			return float64(pick(src.QueueLengths()))
		})
	}
	m.reg.MustRegister(
		dsGauge("conclave_ds_connections", "Connections to the E2EE delivery service (/e2ee).",
			func(c, _, _, _, _, _ int) int { return c }),
		dsGauge("conclave_ds_send_queue_messages", "Messages waiting in the delivery service's send queues.",
			func(_, sm, _, _, _, _ int) int { return sm }),
		dsGauge("conclave_ds_send_queue_bytes", "Bytes waiting in the delivery service's send queues.",
			func(_, _, sb, _, _, _ int) int { return sb }),
		dsGauge("conclave_ds_send_queue_max_bytes", "Bytes waiting for the most backed-up delivery service connection.",
			func(_, _, _, mx, _, _ int) int { return mx }),
		dsGauge("conclave_ds_lobby_joiners", "Joiners waiting in delivery service lobbies to be added by a member.",
			func(_, _, _, _, lobby, _ int) int { return lobby }),
		dsGauge("conclave_ds_handshake_log_messages", "MLS handshake messages kept by the delivery service for resumption.",
			func(_, _, _, _, _, lm int) int { return lm }),
	)
	m.reg.MustRegister(m.joins, m.meetingsCreated, m.rooms, m.participants, m.nodes, m.draining, m.replaced,
		m.heartbeatErrors, fwdPackets, fwdBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every outcome is present from the start, so rates work from zero.
	for _, r := range joinResults {
		m.joins.WithLabelValues(string(r))
	}
	return m
}

func (m *Metrics) forwarded(f func(Forwarding) uint64) float64 {
	m.mu.Lock()
	src := m.fwd
	m.mu.Unlock()
	if src == nil {
		return 0
	}
	return float64(f(src))
}

// SetForwarding attaches the media plane's counters.
func (m *Metrics) SetForwarding(f Forwarding) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.fwd = f
	m.mu.Unlock()
}

// SetPacketCounts attaches the media plane's packet and loss counters.
func (m *Metrics) SetPacketCounts(p PacketCounts) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.pkt = p
	m.mu.Unlock()
}

// SetDeliveryQueues attaches the delivery service's queue lengths.
func (m *Metrics) SetDeliveryQueues(q DeliveryQueues) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.dsq = q
	m.mu.Unlock()
}

// Registry is the underlying registry (for tests and extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// JoinAttempt counts one /api/join outcome.
func (m *Metrics) JoinAttempt(r JoinResult) {
	if m == nil {
		return
	}
	known := false
	for _, k := range joinResults {
		known = known || k == r
	}
	if !known {
		r = JoinError
	}
	m.joins.WithLabelValues(string(r)).Inc()
}

// MeetingCreated counts a created meeting.
func (m *Metrics) MeetingCreated() {
	if m != nil {
		m.meetingsCreated.Inc()
	}
}

// SetLoad records this node's rooms and participants.
func (m *Metrics) SetLoad(rooms, participants int) {
	if m != nil {
		m.rooms.Set(float64(rooms))
		m.participants.Set(float64(participants))
	}
}

// SetCluster records the live node count and whether this node drains.
func (m *Metrics) SetCluster(nodes int, draining bool) {
	if m == nil {
		return
	}
	m.nodes.Set(float64(nodes))
	d := 0.0
	if draining {
		d = 1
	}
	m.draining.Set(d)
}

// RoomsReplaced counts rooms this node placed again after their node died.
func (m *Metrics) RoomsReplaced(n int) {
	if m != nil && n > 0 {
		m.replaced.Add(float64(n))
	}
}

// HeartbeatFailed counts a failed heartbeat.
func (m *Metrics) HeartbeatFailed() {
	if m != nil {
		m.heartbeatErrors.Inc()
	}
}
