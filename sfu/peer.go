package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"conclave/sfu/bwe"
)

// NewPublisherPC returns a PeerConnection that receives a participant's
// tracks. onTrack is called for every incoming stream (one per simulcast
// layer); the caller attaches it to a Receiver.
func (e *Engine) NewPublisherPC(onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) (*webrtc.PeerConnection, error) {
	if e.isClosed() {
		return nil, ErrClosed
	}
	api, err := e.newPublisherAPI()
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("sfu: publisher peer connection: %w", err)
	}
	pc.OnTrack(onTrack)
	return pc, nil
}

// Subscriber is one participant's receiving PeerConnection with its down
// tracks and bandwidth estimate.
type Subscriber struct {
	PC  *webrtc.PeerConnection
	log *slog.Logger

	// bwe numbers every packet sent on this transport and estimates its
	// bandwidth from the subscriber's transport-wide feedback.
	bwe *bwe.Estimator
	// udp is false while the selected ICE candidate pair is not UDP (ICE-TCP,
	// whose writes wait for a slow subscriber). Otherwise down tracks are
	// written from the publishers' readers (DownTrack.forwardDirect); before
	// a pair is selected nothing can be sent, so nothing can wait either.
	udp atomic.Bool

	mu     sync.Mutex
	downs  map[string]*subTrack
	closed bool

	done chan struct{}
	wg   sync.WaitGroup
}

type subTrack struct {
	down   *DownTrack
	sender *webrtc.RTPSender
}

// NewSubscriber returns a Subscriber with an empty PeerConnection.
func (e *Engine) NewSubscriber(log *slog.Logger) (*Subscriber, error) {
	if e.isClosed() {
		return nil, ErrClosed
	}
	s := &Subscriber{log: log, downs: map[string]*subTrack{}, done: make(chan struct{}),
		bwe: bwe.New(bwe.Config{Initial: initialEstimate, Max: maxEstimate})}
	api, err := e.newSubscriberAPI()
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("sfu: subscriber peer connection: %w", err)
	}
	s.PC = pc
	s.udp.Store(true)
	// Over ICE-TCP a write waits for a slow subscriber, so its down tracks
	// keep their queues; over UDP they are written directly.
	pc.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) {
		s.udp.Store(pair == nil || pair.Local == nil || pair.Local.Protocol == webrtc.ICEProtocolUDP)
	})
	s.wg.Add(1)
	go s.allocateLoop()
	return s, nil
}

// ErrDuplicateTrack is returned when a subscriber already has a track.
var ErrDuplicateTrack = errors.New("sfu: track already subscribed")

// AddTrack subscribes to r. trackID and streamID are the SDP msid the
// subscriber sees. The caller renegotiates afterwards.
func (s *Subscriber) AddTrack(r *Receiver, trackID, streamID string) (*DownTrack, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if _, ok := s.downs[trackID]; ok {
		return nil, ErrDuplicateTrack
	}
	d := newDownTrack(r, trackID, streamID, &s.udp, s.bwe, s.log)
	tr, err := s.PC.AddTransceiverFromTrack(d, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		d.close()
		return nil, fmt.Errorf("sfu: subscribe to %s: %w", trackID, err)
	}
	sender := tr.Sender()
	s.downs[trackID] = &subTrack{down: d, sender: sender}
	r.addDownTrack(d)
	d.selectLayer(0)
	s.wg.Add(1)
	go func() {
		// The subscriber's RTCP for this sender: NACK, PLI, FIR, receiver
		// reports and transport-wide feedback (pion hands each sender
		// the RTCP naming its SSRC). Ends when the sender stops.
		defer s.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, _, err := sender.Read(buf)
			if err != nil {
				return
			}
			pkts, err := rtcp.Unmarshal(buf[:n])
			if err != nil {
				continue
			}
			d.handleRTCP(pkts)
		}
	}()
	return d, nil
}

// RemoveTrack unsubscribes from trackID. The caller renegotiates.
func (s *Subscriber) RemoveTrack(trackID string) error {
	s.mu.Lock()
	st, ok := s.downs[trackID]
	delete(s.downs, trackID)
	s.mu.Unlock()
	if !ok {
		return nil
	}
	st.down.recv.removeDownTrack(st.down)
	st.down.close()
	if err := s.PC.RemoveTrack(st.sender); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
		return fmt.Errorf("sfu: unsubscribe from %s: %w", trackID, err)
	}
	return nil
}

// Track returns the down track for trackID.
func (s *Subscriber) Track(trackID string) (*DownTrack, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.downs[trackID]
	if !ok {
		return nil, false
	}
	return st.down, true
}

// TrackIDs lists the subscribed track IDs.
func (s *Subscriber) TrackIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.downs))
	for id := range s.downs {
		ids = append(ids, id)
	}
	return ids
}

// Estimate is the subscriber's estimated available bandwidth in bits per
// second, and whether congestion was seen recently (0, false before any
// feedback).
func (s *Subscriber) Estimate() (uint64, bool) {
	rate, usage, loss := s.bwe.Estimate()
	return rate, usage == bwe.Overuse || loss > 0.1
}

// allocateLoop reselects every video track's layer periodically. Without
// congestion the subscriber gets what it asked for; under congestion the
// GCC estimate is shared equally between its video tracks.
func (s *Subscriber) allocateLoop() {
	defer s.wg.Done()
	t := time.NewTicker(allocateInterval)
	defer t.Stop()
	reports := time.NewTicker(reportInterval)
	defer reports.Stop()
	var (
		lastCongestion time.Time
		streak         int // consecutive ticks with a congestion signal
	)
	for {
		select {
		case <-s.done:
			return
		case now := <-reports.C:
			s.sendReports(now)
		case now := <-t.C:
			rate, congested := s.Estimate()
			if congested {
				streak++
			} else {
				streak = 0
			}
			// One overuse reading is often scheduling jitter on a busy
			// host (the delay-based detector sees the receiver's timing,
			// not only the path's); a real bottleneck keeps signalling.
			// Only a sustained signal constrains the subscriber.
			if streak >= congestionTicks {
				if lastCongestion.IsZero() || now.Sub(lastCongestion) >= 10*time.Second {
					s.log.Debug("sfu: subscriber congested, layers limited", "estimate", rate)
				}
				lastCongestion = now
			}
			s.allocate(rate, !lastCongestion.IsZero() && now.Sub(lastCongestion) < 10*time.Second)
		}
	}
}

// allocateInterval is how often layers are reselected; congestionTicks is
// how many consecutive intervals must signal congestion (GCC overuse or
// more than 10% loss) before the estimate limits the layers.
const (
	allocateInterval = 500 * time.Millisecond
	congestionTicks  = 4
)

// reportInterval is how often each down track sends a sender report.
const reportInterval = time.Second

// sendReports sends a sender report (RFC 3550, Section 6.4.1) for every
// down track that has sent media: receivers use them for round-trip times
// and to synchronise a participant's audio and video.
func (s *Subscriber) sendReports(now time.Time) {
	s.mu.Lock()
	var pkts []rtcp.Packet
	for _, st := range s.downs {
		if sr, ok := st.down.senderReport(now); ok {
			pkts = append(pkts, sr)
		}
	}
	s.mu.Unlock()
	// A compound packet stays well under the MTU: 28 bytes per report.
	const perPacket = 32
	for len(pkts) > 0 {
		n := min(len(pkts), perPacket)
		if err := s.PC.WriteRTCP(pkts[:n]); err != nil {
			s.log.Debug("sfu: sender reports not sent", "err", err)
			return
		}
		pkts = pkts[n:]
	}
}

func (s *Subscriber) allocate(rate uint64, constrained bool) {
	s.mu.Lock()
	var video []*DownTrack
	for _, st := range s.downs {
		if st.down.video {
			video = append(video, st.down)
		}
	}
	s.mu.Unlock()
	var share uint64
	if constrained && len(video) > 0 && rate > 0 {
		share = rate / uint64(len(video))
	}
	for _, d := range video {
		d.selectLayer(share)
	}
}

// Reallocate reselects layers now (after a settings change).
func (s *Subscriber) Reallocate() {
	rate, congested := s.Estimate()
	s.allocate(rate, congested)
}

// Close closes the PeerConnection and every down track.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	downs := s.downs
	s.downs = map[string]*subTrack{}
	s.mu.Unlock()
	close(s.done)
	for _, st := range downs {
		st.down.recv.removeDownTrack(st.down)
		st.down.close()
	}
	err := s.PC.Close()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("sfu: close subscriber: %w", err)
	}
	return nil
}
