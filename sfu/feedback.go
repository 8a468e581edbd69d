package sfu

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
)

// feedbackInterval is how often a publisher is sent transport-wide
// feedback (as browsers and pion do).
const feedbackInterval = 100 * time.Millisecond

// transportFeedback records the arrival of a publisher's packets by their
// transport-wide sequence numbers and sends the feedback its congestion
// control needs (draft-holmer-rmcat-transport-wide-cc-extensions-01,
// Section 3.1). It is an interceptor on the publisher's connection so that
// it sees every packet of every stream, the RTX streams' padding probes
// included (a browser's estimator counts unreported probes as lost and
// ramps up slowly); the stream readers record as they read and the one
// that finds the interval elapsed sends. pion's twcc interceptor does the
// same work but hands every packet to its own goroutine over a channel.
type transportFeedback struct {
	interceptor.NoOp

	mu    sync.Mutex
	rec   *twcc.Recorder
	start time.Time
	last  time.Time
	write interceptor.RTCPWriter
}

// NewInterceptor implements interceptor.Factory: the publisher API is made
// for one PeerConnection, so its one interceptor is this.
func (f *transportFeedback) NewInterceptor(string) (interceptor.Interceptor, error) { return f, nil }

func newTransportFeedback() *transportFeedback {
	return &transportFeedback{rec: twcc.NewRecorder(rand.Uint32()), start: time.Now()}
}

// BindRTCPWriter keeps the connection's RTCP writer for the feedback.
func (f *transportFeedback) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	f.mu.Lock()
	f.write = w
	f.mu.Unlock()
	return w
}

// BindRemoteStream records every packet of an incoming stream that carries
// a transport-wide sequence number.
func (f *transportFeedback) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	var id uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			id = uint8(e.ID)
		}
	}
	if id == 0 {
		return r
	}
	ssrc := info.SSRC
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil {
			return n, a, err
		}
		if a == nil {
			a = interceptor.Attributes{}
		}
		h, err := a.GetRTPHeader(b[:n])
		if err != nil {
			return n, a, nil // not RTP: for the reader to refuse
		}
		if ext := h.GetExtension(id); len(ext) >= 2 {
			f.record(ssrc, uint16(ext[0])<<8|uint16(ext[1]), time.Now())
		}
		return n, a, nil
	})
}

// record notes that the packet with transport-wide number seq of stream
// ssrc arrived at now, and sends feedback when it is due.
func (f *transportFeedback) record(ssrc uint32, seq uint16, now time.Time) {
	f.mu.Lock()
	f.rec.Record(ssrc, seq, now.Sub(f.start).Microseconds())
	var pkts []rtcp.Packet
	if now.Sub(f.last) >= feedbackInterval {
		f.last = now
		pkts = f.rec.BuildFeedbackPacket()
	}
	w := f.write
	f.mu.Unlock()
	if len(pkts) == 0 || w == nil {
		return
	}
	// A failed write (the connection closing) loses one report; the next
	// one covers the packets again.
	_, _ = w.Write(pkts, nil)
}
