package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// firstMessageWait bounds the wait for the join (or reconnect) response.
const firstMessageWait = 10 * time.Second

// pcConn is one of the two peer connections with the trickle candidates that
// arrived before its remote description.
type pcConn struct {
	pc     *webrtc.PeerConnection
	target livekit.SignalTarget

	mu        sync.Mutex
	remoteSet bool
	pending   []webrtc.ICECandidateInit
	connected chan struct{}
	connOnce  sync.Once
}

func (c *pcConn) addCandidate(cand webrtc.ICECandidateInit) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.remoteSet {
		if len(c.pending) >= 256 {
			return errors.New("bot: too many early ICE candidates")
		}
		c.pending = append(c.pending, cand)
		return nil
	}
	return c.pc.AddICECandidate(cand)
}

// setRemote applies a remote description and then the candidates that were
// waiting for it.
func (c *pcConn) setRemote(sd webrtc.SessionDescription) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.pc.SetRemoteDescription(sd); err != nil {
		return err
	}
	c.remoteSet = true
	for _, cand := range c.pending {
		if err := c.pc.AddICECandidate(cand); err != nil {
			return fmt.Errorf("bot: early candidate: %w", err)
		}
	}
	c.pending = nil
	return nil
}

// newPC builds one peer connection whose ICE candidates trickle to target.
func (b *Bot) newPC(ice []webrtc.ICEServer, target livekit.SignalTarget) (*pcConn, error) {
	pc, err := b.api.NewPeerConnection(webrtc.Configuration{
		ICEServers:    ice,
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
	if err != nil {
		return nil, fmt.Errorf("bot: new peer connection: %w", err)
	}
	c := &pcConn{pc: pc, target: target, connected: make(chan struct{})}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		init, err := json.Marshal(cand.ToJSON())
		if err != nil {
			return
		}
		b.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{
			CandidateInit: string(init),
			Target:        target,
		}}})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		b.log.Debug("peer connection state", "target", target.String(), "state", s.String())
		if s == webrtc.PeerConnectionStateConnected {
			c.connOnce.Do(func() { close(c.connected) })
		}
	})
	return c, nil
}

func iceServers(in []*livekit.ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(in))
	for _, s := range in {
		out = append(out, webrtc.ICEServer{URLs: s.Urls, Username: s.Username, Credential: s.Credential})
	}
	return out
}

// connect joins: signal connection, join response, peer connections, track
// publication and publisher negotiation. On error the caller shuts down.
func (b *Bot) connect(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, b.cfg.connectTimeout())
	defer cancel()

	u, err := signalURL(b.url, b.token, false, "", 0)
	if err != nil {
		return err
	}
	sig, err := dialSignal(ctx, b.cfg.Dialer, u)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.sig = sig
	b.mu.Unlock()

	first, err := readFirst(sig, func(r *livekit.SignalResponse) bool { return r.GetJoin() != nil })
	if err != nil {
		return err
	}
	join := first.GetJoin()
	b.mu.Lock()
	b.self = join.Participant
	b.pingInterval = time.Duration(join.PingInterval) * time.Second
	b.pingTimeout = time.Duration(join.PingTimeout) * time.Second
	b.lastPong = time.Now()
	b.mu.Unlock()
	b.updateParticipants(join.OtherParticipants)
	b.log.Debug("joined", "sid", join.GetParticipant().GetSid(), "others", len(join.OtherParticipants))

	ice := iceServers(join.IceServers)
	if b.subC, err = b.newPC(ice, livekit.SignalTarget_SUBSCRIBER); err != nil {
		return err
	}
	b.subC.pc.OnTrack(b.onTrack)
	if b.pubC, err = b.newPC(ice, livekit.SignalTarget_PUBLISHER); err != nil {
		return err
	}

	b.goOwned(b.readLoop)
	b.goOwned(b.pingLoop)

	if b.cfg.NoAudio && b.cfg.NoVideo {
		b.joinedAt = time.Now()
		return nil
	}
	b.pub = newPublication(b.rng, !b.cfg.NoAudio, !b.cfg.NoVideo)
	if err := b.publish(ctx); err != nil {
		return err
	}
	select {
	case <-b.pubC.connected:
	case <-ctx.Done():
		return fmt.Errorf("%w: publisher connection: %w", ErrConnectTimeout, ctx.Err())
	}
	b.startSending()
	b.joinedAt = time.Now()
	return nil
}

// readFirst reads the first message of a signal connection: one for which
// want is true, or a Leave. Others are dropped, as livekit-client does while
// it waits for a reconnect response.
func readFirst(sig *signalConn, want func(*livekit.SignalResponse) bool) (*livekit.SignalResponse, error) {
	if err := sig.ws.SetReadDeadline(time.Now().Add(firstMessageWait)); err != nil {
		return nil, fmt.Errorf("bot: signal: %w", err)
	}
	defer func() { _ = sig.ws.SetReadDeadline(time.Time{}) }()
	for {
		r, err := sig.read()
		if err != nil {
			return nil, fmt.Errorf("bot: waiting for the first signal message: %w", err)
		}
		if l := r.GetLeave(); l != nil {
			return nil, fmt.Errorf("%w: %s", ErrLeft, l.Reason.String())
		}
		if want(r) {
			return r, nil
		}
	}
}

// publish announces the tracks with AddTrackRequest, waits for the server's
// TrackPublishedResponse for each (or a refusal), then negotiates the
// publisher connection.
func (b *Bot) publish(ctx context.Context) error {
	reqs := b.pub.addTrackRequests(b.cfg.encryption())
	waits := make([]chan publishResult, len(reqs))
	b.mu.Lock()
	for i, r := range reqs {
		waits[i] = make(chan publishResult, 1)
		b.published[r.Cid] = waits[i]
	}
	b.mu.Unlock()
	for _, r := range reqs {
		b.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: r}})
	}
	for i, r := range reqs {
		select {
		case res := <-waits[i]:
			if res.err != nil {
				return res.err
			}
			if r.Type == livekit.TrackType_AUDIO {
				b.pub.audioInfo = res.info
			} else {
				b.pub.videoInfo = res.info
			}
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for track %s to be published: %w", ErrConnectTimeout, r.Name, ctx.Err())
		case <-b.ctx.Done():
			return ErrClosed
		}
	}
	if err := b.pub.attach(b.pubC.pc); err != nil {
		return err
	}
	return b.negotiatePublisher(false)
}

// negotiatePublisher sends an offer for the publisher connection.
func (b *Bot) negotiatePublisher(iceRestart bool) error {
	offer, err := b.pubC.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: iceRestart})
	if err != nil {
		return fmt.Errorf("bot: publisher offer: %w", err)
	}
	if err := b.pubC.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("bot: publisher local description: %w", err)
	}
	b.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{
		Type: "offer",
		Sdp:  browserLikeSDP(offer.SDP),
	}}})
	return nil
}

// browserLikeSDP removes the SSRC lines that pion writes for simulcast
// encodings: Chrome announces simulcast layers by RID only (RFC 8853), so
// the SFU must learn their SSRCs from the MID and RID header extensions.
func browserLikeSDP(s string) string {
	lines := strings.SplitAfter(s, "\n")
	out := make([]string, 0, len(lines))
	var section []string
	flush := func() {
		simulcast := false
		for _, l := range section {
			if strings.HasPrefix(l, "a=simulcast:") {
				simulcast = true
			}
		}
		for _, l := range section {
			if simulcast && (strings.HasPrefix(l, "a=ssrc:") || strings.HasPrefix(l, "a=ssrc-group:")) {
				continue
			}
			out = append(out, l)
		}
		section = section[:0]
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "m=") {
			flush()
		}
		section = append(section, l)
	}
	flush()
	return strings.Join(out, "")
}

// startSending starts the RTCP readers of the published streams and the
// media loop.
func (b *Bot) startSending() {
	onKey := func() { b.stats.keyframeReqs.Add(1) }
	if s := b.pub.audioSender; s != nil {
		b.goOwned(func() {
			b.pub.readRTCP(func() ([]rtcp.Packet, error) { p, _, err := s.ReadRTCP(); return p, err }, -1, onKey)
		})
	}
	if s := b.pub.videoSender; s != nil {
		for i, l := range videoLayers {
			rid := l.layer.RID()
			b.goOwned(func() {
				b.pub.readRTCP(func() ([]rtcp.Packet, error) { p, _, err := s.ReadSimulcastRTCP(rid); return p, err }, i, onKey)
			})
		}
	}
	b.goOwned(func() { b.mediaLoop(b.ctx) })
}

// readLoop reads signal messages until the bot closes, resuming the session
// when the connection is lost.
func (b *Bot) readLoop() {
	for {
		b.mu.Lock()
		sig, closing := b.sig, b.closing
		b.mu.Unlock()
		if closing {
			return
		}
		resp, err := sig.read()
		if err != nil {
			if b.isClosing() {
				return
			}
			if errors.Is(err, errDecode) {
				b.log.Warn("undecodable signal message", "err", err)
				continue
			}
			b.log.Info("signal connection lost, resuming", "err", err)
			if err := b.resume(); err != nil {
				if !b.isClosing() {
					b.fail(err)
				}
				return
			}
			continue
		}
		b.handle(resp)
	}
}

func (b *Bot) isClosing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closing
}

// handle dispatches one signal response.
func (b *Bot) handle(resp *livekit.SignalResponse) {
	switch m := resp.Message.(type) {
	case *livekit.SignalResponse_Offer:
		if err := b.handleOffer(m.Offer); err != nil {
			b.log.Warn("subscriber offer failed", "err", err)
		}
	case *livekit.SignalResponse_Answer:
		sd := webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.Answer.Sdp}
		if err := b.pubC.setRemote(sd); err != nil {
			b.log.Warn("publisher answer failed", "err", err)
		}
	case *livekit.SignalResponse_Trickle:
		b.handleTrickle(m.Trickle)
	case *livekit.SignalResponse_Update:
		b.updateParticipants(m.Update.Participants)
	case *livekit.SignalResponse_TrackPublished:
		b.deliverPublished(m.TrackPublished.Cid, publishResult{info: m.TrackPublished.Track})
	case *livekit.SignalResponse_RequestResponse:
		b.handleRequestResponse(m.RequestResponse)
	case *livekit.SignalResponse_Leave:
		b.handleLeave(m.Leave)
	case *livekit.SignalResponse_PongResp:
		b.mu.Lock()
		b.lastPong = time.Now()
		b.rtt = time.Since(time.UnixMilli(m.PongResp.LastPingTimestamp))
		b.mu.Unlock()
	case *livekit.SignalResponse_Pong:
		b.mu.Lock()
		b.lastPong = time.Now()
		b.mu.Unlock()
	case *livekit.SignalResponse_RefreshToken:
		b.mu.Lock()
		b.token = m.RefreshToken
		b.mu.Unlock()
	}
}

// handleOffer answers the server's subscriber offer.
func (b *Bot) handleOffer(o *livekit.SessionDescription) error {
	b.mu.Lock()
	for mid, t := range o.MidToTrackId {
		b.midTrack[mid] = t
	}
	b.mu.Unlock()
	if err := b.subC.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.Sdp}); err != nil {
		return fmt.Errorf("bot: subscriber remote description: %w", err)
	}
	answer, err := b.subC.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("bot: subscriber answer: %w", err)
	}
	if err := b.subC.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("bot: subscriber local description: %w", err)
	}
	b.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Answer{Answer: &livekit.SessionDescription{
		Type: "answer",
		Sdp:  answer.SDP,
		Id:   o.Id,
	}}})
	return nil
}

func (b *Bot) midToTrack(mid string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.midTrack[mid]
}

func (b *Bot) handleTrickle(t *livekit.TrickleRequest) {
	var cand webrtc.ICECandidateInit
	if err := json.Unmarshal([]byte(t.CandidateInit), &cand); err != nil {
		b.log.Warn("bad trickle candidate", "err", err)
		return
	}
	c := b.subC
	if t.Target == livekit.SignalTarget_PUBLISHER {
		c = b.pubC
	}
	if err := c.addCandidate(cand); err != nil {
		b.log.Warn("adding ICE candidate failed", "target", t.Target.String(), "err", err)
	}
}

func (b *Bot) deliverPublished(cid string, r publishResult) {
	b.mu.Lock()
	ch := b.published[cid]
	delete(b.published, cid)
	b.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// handleRequestResponse turns a refused AddTrackRequest into an error for
// the publish call waiting on it.
func (b *Bot) handleRequestResponse(r *livekit.RequestResponse) {
	if r.Reason == livekit.RequestResponse_OK {
		return
	}
	b.log.Info("request refused", "reason", r.Reason.String(), "message", r.Message)
	if at := r.GetAddTrack(); at != nil {
		b.deliverPublished(at.Cid, publishResult{err: fmt.Errorf("%w: %s: %s", ErrTrackRefused, r.Reason.String(), r.Message)})
		return
	}
	// A refusal without the request attached: fail every pending publish,
	// since the bot sends nothing else that the server could refuse then.
	b.mu.Lock()
	var cids []string
	for cid := range b.published {
		cids = append(cids, cid)
	}
	b.mu.Unlock()
	for _, cid := range cids {
		b.deliverPublished(cid, publishResult{err: fmt.Errorf("%w: %s: %s", ErrTrackRefused, r.Reason.String(), r.Message)})
	}
}

// handleLeave follows a server's LeaveRequest: resume when asked to, end the
// session otherwise (a full reconnect with a new identity is the caller's
// decision, as in livekit-client's Room).
func (b *Bot) handleLeave(l *livekit.LeaveRequest) {
	b.log.Info("server asked to leave", "reason", l.Reason.String(), "action", l.Action.String())
	if l.Action == livekit.LeaveRequest_RESUME {
		b.CutSignal()
		return
	}
	err := fmt.Errorf("%w: %s", ErrLeft, l.Reason.String())
	// Fail pending publishes too (a server may answer a refused track so).
	b.mu.Lock()
	var cids []string
	for cid := range b.published {
		cids = append(cids, cid)
	}
	b.mu.Unlock()
	for _, cid := range cids {
		b.deliverPublished(cid, publishResult{err: fmt.Errorf("%w: %w", ErrTrackRefused, err)})
	}
	b.fail(err)
}

// updateParticipants applies a participant update (or a join response's
// list): DISCONNECTED participants are gone.
func (b *Bot) updateParticipants(ps []*livekit.ParticipantInfo) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range ps {
		if b.self != nil && p.Sid == b.self.Sid {
			b.self = p
			continue
		}
		if p.State == livekit.ParticipantInfo_DISCONNECTED {
			if _, ok := b.participants[p.Sid]; ok {
				b.left[p.Identity] = now
			}
			delete(b.participants, p.Sid)
			continue
		}
		b.participants[p.Sid] = p
		b.seen[p.Identity] = struct{}{}
		// Kept after the participant leaves, so that reports name the
		// owner of every track received. Bounded by the room's history.
		b.sidIdentity[p.Sid] = p.Identity
		for _, t := range p.Tracks {
			b.trackOwner[t.Sid] = p.Identity
		}
		delete(b.left, p.Identity)
	}
}

// Participant is another participant as the server lists it.
type Participant struct {
	SID, Identity, Name string
	Tracks              int
}

// Participants returns the other participants currently in the room.
func (b *Bot) Participants() []Participant {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Participant, 0, len(b.participants))
	for _, p := range b.participants {
		out = append(out, Participant{SID: p.Sid, Identity: p.Identity, Name: p.Name, Tracks: len(p.Tracks)})
	}
	return out
}

// LeftAt returns when the bot saw the participant with identity leave.
func (b *Bot) LeftAt(identity string) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.left[identity]
	return t, ok
}

// pingLoop sends pings at the interval the server asked for in its join
// response, and declares the signal connection lost (so that it resumes)
// when no pong came within the ping timeout.
func (b *Bot) pingLoop() {
	b.mu.Lock()
	interval, timeout := b.pingInterval, b.pingTimeout
	b.mu.Unlock()
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		b.mu.Lock()
		rtt, last := b.rtt, b.lastPong
		b.mu.Unlock()
		if timeout > 0 && time.Since(last) > timeout {
			b.log.Info("ping timeout", "since_pong", time.Since(last).String())
			b.CutSignal()
			continue
		}
		now := time.Now().UnixMilli()
		// livekit-client sends both forms for old and new servers.
		b.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Ping{Ping: now}})
		b.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: now, Rtt: rtt.Milliseconds()}}})
	}
}
