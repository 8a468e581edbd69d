package sfu

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

// feedbackInterval is how often a publisher is sent transport-wide
// feedback (as browsers and pion do).
const feedbackInterval = 100 * time.Millisecond

// TransportFeedback records the arrival of a publisher's packets by their
// transport-wide sequence numbers and sends the feedback its congestion
// control needs (draft-holmer-rmcat-transport-wide-cc-extensions-01,
// Section 3.1). The layer readers record packets as they arrive and the
// one that finds the interval elapsed sends: no goroutine and no hand-off
// per packet, which pion's twcc interceptor costs.
type TransportFeedback struct {
	write func([]rtcp.Packet) error

	mu    sync.Mutex
	rec   *twcc.Recorder
	start time.Time
	last  time.Time
}

func newTransportFeedback(write func([]rtcp.Packet) error) *TransportFeedback {
	return &TransportFeedback{write: write, rec: twcc.NewRecorder(rand.Uint32()), start: time.Now()}
}

// record notes that the packet with transport-wide number seq of stream
// ssrc arrived at now, and sends feedback when it is due.
func (f *TransportFeedback) record(ssrc uint32, seq uint16, now time.Time) error {
	f.mu.Lock()
	f.rec.Record(ssrc, seq, now.Sub(f.start).Microseconds())
	var pkts []rtcp.Packet
	if now.Sub(f.last) >= feedbackInterval {
		f.last = now
		pkts = f.rec.BuildFeedbackPacket()
	}
	f.mu.Unlock()
	if len(pkts) == 0 {
		return nil
	}
	return f.write(pkts)
}
