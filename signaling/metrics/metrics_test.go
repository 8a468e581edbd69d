package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

type fwd struct{ p, b uint64 }

func (f fwd) ForwardedPackets() uint64 { return f.p }
func (f fwd) ForwardedBytes() uint64   { return f.b }

func value(t *testing.T, m *Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return metricValue(s)
		}
	}
	t.Fatalf("no metric %s %v", name, labels)
	return 0
}

func metricValue(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	}
	return -1
}

func TestCountersAndGauges(t *testing.T) {
	m := New()
	m.JoinAttempt(JoinOK)
	m.JoinAttempt(JoinOK)
	m.JoinAttempt(JoinRateLimited)
	m.JoinAttempt("a room id that must never be a label")
	m.MeetingCreated()
	m.SetLoad(3, 11)
	m.SetCluster(3, true)
	m.RoomsReplaced(4)
	m.SetForwarding(fwd{p: 1000, b: 1_200_000})
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"conclave_join_attempts_total", map[string]string{"result": "ok"}, 2},
		{"conclave_join_attempts_total", map[string]string{"result": "rate_limited"}, 1},
		{"conclave_join_attempts_total", map[string]string{"result": "error"}, 1},
		{"conclave_join_attempts_total", map[string]string{"result": "not_found"}, 0},
		{"conclave_meetings_created_total", nil, 1},
		{"conclave_rooms", nil, 3},
		{"conclave_participants", nil, 11},
		{"conclave_cluster_nodes", nil, 3},
		{"conclave_node_draining", nil, 1},
		{"conclave_rooms_replaced_total", nil, 4},
		{"conclave_forwarded_packets_total", nil, 1000},
		{"conclave_forwarded_bytes_total", nil, 1_200_000},
	}
	for _, c := range checks {
		t.Run(c.name+" "+c.labels["result"], func(t *testing.T) {
			if got := value(t, m, c.name, c.labels); got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestLabelsAreEnumerated: the only label on Conclave's own metrics is the
// join outcome, with values from a fixed list.
func TestLabelsAreEnumerated(t *testing.T) {
	m := New()
	m.JoinAttempt("0123456789abcdef0123456789abcdef")
	mfs, _ := m.Registry().Gather()
	allowed := map[string]bool{}
	for _, r := range joinResults {
		allowed[string(r)] = true
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "conclave_") {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetName() != "result" || !allowed[lp.GetValue()] {
					t.Fatalf("%s has label %s=%q", mf.GetName(), lp.GetName(), lp.GetValue())
				}
			}
		}
	}
}

func TestHandlerAndNil(t *testing.T) {
	var nilM *Metrics
	nilM.JoinAttempt(JoinOK) // a nil registry ignores calls
	nilM.SetLoad(1, 1)
	m := New()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	for _, want := range []string{"conclave_rooms 0", "process_cpu_seconds_total", `conclave_join_attempts_total{result="ok"} 0`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("exposition lacks %q", want)
		}
	}
}

type queues struct{ c, sm, sb, mx, lobby, lm int }

func (q queues) QueueLengths() (int, int, int, int, int, int) {
	return q.c, q.sm, q.sb, q.mx, q.lobby, q.lm
}

func TestDeliveryQueueGauges(t *testing.T) {
	m := New()
	names := []string{"conclave_ds_connections", "conclave_ds_send_queue_messages", "conclave_ds_send_queue_bytes",
		"conclave_ds_send_queue_max_bytes", "conclave_ds_lobby_joiners", "conclave_ds_handshake_log_messages"}
	for _, n := range names {
		if v := value(t, m, n, nil); v != 0 {
			t.Fatalf("%s before a delivery service is attached: %v", n, v)
		}
	}
	m.SetDeliveryQueues(queues{7, 12, 3400, 2000, 2, 30})
	for i, want := range []float64{7, 12, 3400, 2000, 2, 30} {
		if v := value(t, m, names[i], nil); v != want {
			t.Errorf("%s = %v, want %v", names[i], v, want)
		}
	}
	var nilM *Metrics
	nilM.SetDeliveryQueues(queues{})
}

type packets struct{ rcv, lin, lout, drop uint64 }

func (p packets) PacketCounts() (uint64, uint64, uint64, uint64) { return p.rcv, p.lin, p.lout, p.drop }

func TestPacketCounters(t *testing.T) {
	m := New()
	names := []string{"conclave_received_packets_total", "conclave_lost_packets_from_publishers_total",
		"conclave_lost_packets_to_subscribers_total", "conclave_dropped_packets_slow_subscribers_total"}
	for _, n := range names {
		if v := value(t, m, n, nil); v != 0 {
			t.Fatalf("%s before a media plane is attached: %v", n, v)
		}
	}
	m.SetPacketCounts(packets{1000, 7, 5, 2})
	for i, want := range []float64{1000, 7, 5, 2} {
		if v := value(t, m, names[i], nil); v != want {
			t.Errorf("%s = %v, want %v", names[i], v, want)
		}
	}
}
