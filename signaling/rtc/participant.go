package rtc

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"

	"conclave/sfu"
	"conclave/signaling/token"
)

// participant is one member of a room. It outlives a WebSocket: a resume
// attaches a new one to the same PeerConnections.
type participant struct {
	h        *Handler
	room     *room
	sid      string
	identity string
	name     string
	metadata string
	publish  bool
	subscr   bool
	autoSub  bool
	joinedAt time.Time
	log      *slog.Logger

	pub *webrtc.PeerConnection
	sub *sfu.Subscriber

	mu        sync.Mutex
	conn      *conn
	state     livekit.ParticipantInfo_State
	version   uint32
	pending   map[string]*livekit.TrackInfo // by cid, awaiting media
	tracks    map[string]*pubTrack          // by track SID
	byCID     map[string]*pubTrack
	pubCands  []webrtc.ICECandidateInit
	subCands  []webrtc.ICECandidateInit
	grace     *time.Timer
	gone      bool
	closeOnce sync.Once

	negMu       sync.Mutex
	offerOut    bool // a subscriber offer awaits its answer
	renegotiate bool
	restartICE  bool
	offerID     uint32
}

type pubTrack struct {
	info *livekit.TrackInfo
	recv *sfu.Receiver
}

func newParticipant(h *Handler, rm *room, c *token.Claims, autoSub bool, log *slog.Logger) (*participant, error) {
	p := &participant{
		h: h, room: rm, sid: newID("PA_"), identity: c.Identity, name: c.Name, metadata: c.Metadata,
		publish: c.CanPublish, subscr: c.CanSubscribe, autoSub: autoSub, joinedAt: time.Now(),
		log:     log,
		state:   livekit.ParticipantInfo_JOINING,
		pending: map[string]*livekit.TrackInfo{}, tracks: map[string]*pubTrack{}, byCID: map[string]*pubTrack{},
	}
	var err error
	p.pub, err = h.engine.NewPublisherPC(p.onTrack)
	if err != nil {
		return nil, fmt.Errorf("rtc: %w", err)
	}
	p.sub, err = h.engine.NewSubscriber(log)
	if err != nil {
		_ = p.pub.Close()
		return nil, fmt.Errorf("rtc: %w", err)
	}
	p.pub.OnICECandidate(func(c *webrtc.ICECandidate) { p.trickle(c, livekit.SignalTarget_PUBLISHER) })
	p.sub.PC.OnICECandidate(func(c *webrtc.ICECandidate) { p.trickle(c, livekit.SignalTarget_SUBSCRIBER) })
	p.pub.OnConnectionStateChange(p.onConnectionState)
	p.sub.PC.OnConnectionStateChange(p.onConnectionState)
	// The client's data channels on the publisher connection are accepted
	// and ignored: Conclave's chat is end-to-end encrypted over /e2ee.
	return p, nil
}

// start admits the participant to its room and sends the JoinResponse.
func (p *participant) start(c *conn) error {
	others, replaced, err := p.room.add(p)
	if err != nil {
		return err
	}
	if replaced != nil {
		replaced.kick(livekit.DisconnectReason_DUPLICATE_IDENTITY)
		p.room.announceGone(replaced)
	}
	p.mu.Lock()
	p.state = livekit.ParticipantInfo_JOINED
	p.mu.Unlock()

	infos := make([]*livekit.ParticipantInfo, 0, len(others))
	for _, q := range others {
		infos = append(infos, q.info())
	}
	join := &livekit.JoinResponse{
		Room:              p.room.info(),
		Participant:       p.info(),
		OtherParticipants: infos,
		ServerVersion:     p.h.cfg.ServerVersion,
		IceServers:        p.iceServers(),
		SubscriberPrimary: p.subscr,
		ClientConfiguration: &livekit.ClientConfiguration{
			ResumeConnection: livekit.ClientConfigSetting_ENABLED,
		},
		PingTimeout:  int32(p.h.cfg.PingTimeout / time.Second),
		PingInterval: int32(p.h.cfg.PingInterval / time.Second),
		ServerInfo: &livekit.ServerInfo{
			Edition: livekit.ServerInfo_Standard, Version: p.h.cfg.ServerVersion, Protocol: ProtocolVersion,
		},
		EnabledPublishCodecs: []*livekit.Codec{{Mime: webrtc.MimeTypeVP8}, {Mime: webrtc.MimeTypeOpus}},
	}
	// The JoinResponse must be the first message: it is queued while p.mu
	// is held, so room broadcasts to p (which take p.mu) queue after it.
	p.mu.Lock()
	ok := c.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Join{Join: join}})
	if ok {
		p.conn = c
	}
	p.mu.Unlock()
	if !ok {
		return errors.New("rtc: connection closed before join")
	}
	p.log.Info("rtc: participant joined", "others", len(others))
	p.room.announce(p)

	// A data channel gives the subscriber connection something to negotiate
	// before any track exists, so it connects (subscriber_primary).
	if _, err := p.sub.PC.CreateDataChannel("_reliable", nil); err != nil {
		return fmt.Errorf("rtc: subscriber data channel: %w", err)
	}
	if p.subscr && p.autoSub {
		for _, q := range others {
			for _, t := range q.publishedTracks() {
				p.subscribe(q, t)
			}
		}
	}
	p.negotiate(false)
	return nil
}

// resume attaches a new WebSocket after a drop.
func (p *participant) resume(c *conn) error {
	reconnect := &livekit.SignalResponse{Message: &livekit.SignalResponse_Reconnect{Reconnect: &livekit.ReconnectResponse{
		IceServers: p.iceServers(),
		ClientConfiguration: &livekit.ClientConfiguration{
			ResumeConnection: livekit.ClientConfigSetting_ENABLED,
		},
		ServerInfo: &livekit.ServerInfo{
			Edition: livekit.ServerInfo_Standard, Version: p.h.cfg.ServerVersion, Protocol: ProtocolVersion,
		},
	}}}
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return errors.New("rtc: participant already left")
	}
	// The ReconnectResponse must be the first message on c (livekit-client
	// drops anything else while resuming): queue it before c is visible.
	if !c.send(reconnect) {
		p.mu.Unlock()
		return errors.New("rtc: connection closed before resume")
	}
	old := p.conn
	p.conn = c
	if p.grace != nil {
		p.grace.Stop()
		p.grace = nil
	}
	p.mu.Unlock()
	if old != nil && old != c {
		old.close(websocket.CloseNormalClosure, "replaced by a resumed connection")
	}
	p.log.Info("rtc: participant resumed")
	// An offer sent on the dead connection may never have been answered;
	// the subscriber connection restarts ICE if it is not connected.
	p.negMu.Lock()
	p.offerOut = false
	p.negMu.Unlock()
	restart := p.sub.PC.ConnectionState() != webrtc.PeerConnectionStateConnected
	p.negotiate(restart)
	return nil
}

// detach is called when c's read loop ends. If c is still the participant's
// connection and no leave was received, the participant waits
// ReconnectGrace for a resume.
func (p *participant) detach(c *conn) {
	c.close(websocket.CloseNormalClosure, "")
	p.mu.Lock()
	if p.conn != c || p.gone {
		p.mu.Unlock()
		return
	}
	p.conn = nil
	p.grace = time.AfterFunc(p.h.cfg.ReconnectGrace, func() {
		p.log.Info("rtc: participant did not resume")
		p.leave(livekit.DisconnectReason_SIGNAL_CLOSE)
	})
	p.mu.Unlock()
}

func (p *participant) iceServers() []*livekit.ICEServer {
	var out []*livekit.ICEServer
	for _, s := range p.h.engine.ICEServers(p.identity, time.Now()) {
		out = append(out, &livekit.ICEServer{Urls: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

// send queues a response on the current connection, if any.
func (p *participant) send(res *livekit.SignalResponse) bool {
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c == nil {
		return false
	}
	return c.send(res)
}

func (p *participant) respondError(requestID uint32, reason livekit.RequestResponse_Reason, msg string) {
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_RequestResponse{RequestResponse: &livekit.RequestResponse{
		RequestId: requestID, Reason: reason, Message: msg,
	}}})
}

func (p *participant) info() *livekit.ParticipantInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.version++
	pi := &livekit.ParticipantInfo{
		Sid: p.sid, Identity: p.identity, Name: p.name, Metadata: p.metadata, State: p.state,
		JoinedAt: p.joinedAt.Unix(), JoinedAtMs: p.joinedAt.UnixMilli(), Version: p.version,
		Permission: &livekit.ParticipantPermission{
			CanPublish: p.publish, CanSubscribe: p.subscr,
			CanPublishData: false,
		},
		IsPublisher: len(p.tracks) > 0,
	}
	for _, t := range p.tracks {
		pi.Tracks = append(pi.Tracks, t.info)
	}
	return pi
}

func (p *participant) publishedTracks() []*pubTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*pubTrack, 0, len(p.tracks))
	for _, t := range p.tracks {
		out = append(out, t)
	}
	return out
}

func (p *participant) onConnectionState(s webrtc.PeerConnectionState) {
	if s != webrtc.PeerConnectionStateConnected {
		return
	}
	p.mu.Lock()
	changed := p.state != livekit.ParticipantInfo_ACTIVE && !p.gone
	if changed {
		p.state = livekit.ParticipantInfo_ACTIVE
	}
	p.mu.Unlock()
	if changed {
		p.room.announce(p)
	}
}

// trickle sends a local ICE candidate to the client.
func (p *participant) trickle(c *webrtc.ICECandidate, target livekit.SignalTarget) {
	if c == nil {
		return
	}
	b, err := json.Marshal(c.ToJSON())
	if err != nil {
		return
	}
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Trickle{Trickle: &livekit.TrickleRequest{
		CandidateInit: string(b), Target: target,
	}}})
}

// audioLevel is the participant's speaking level across its audio tracks.
func (p *participant) audioLevel() (float32, bool) {
	var best float32
	var active bool
	for _, t := range p.publishedTracks() {
		if t.recv.Kind() != webrtc.RTPCodecTypeAudio || t.info.Muted {
			continue
		}
		l, a := t.recv.AudioLevel()
		if a && l > best {
			best = l
		}
		active = active || a
	}
	return best, active
}

// kick tells the client to go away (LeaveRequest) and ends the participant
// without announcing it (the caller does).
func (p *participant) kick(reason livekit.DisconnectReason) {
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Leave{Leave: &livekit.LeaveRequest{
		Reason: reason, Action: livekit.LeaveRequest_DISCONNECT,
	}}})
	p.close()
}

// leave removes the participant from its room, tells the others and ends it.
func (p *participant) leave(reason livekit.DisconnectReason) {
	if !p.room.remove(p) {
		p.close()
		return
	}
	p.log.Info("rtc: participant left", "reason", reason.String())
	p.close()
	p.room.announceGone(p)
	p.h.dropRoomIfEmpty(p.room)
}

// close releases the participant's connections and tracks. Other
// participants' subscriptions to its tracks are removed.
func (p *participant) close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.gone = true
		p.state = livekit.ParticipantInfo_DISCONNECTED
		c := p.conn
		if p.grace != nil {
			p.grace.Stop()
		}
		tracks := make([]*pubTrack, 0, len(p.tracks))
		for _, t := range p.tracks {
			tracks = append(tracks, t)
		}
		p.mu.Unlock()
		if c != nil {
			c.close(websocket.CloseNormalClosure, "participant left")
		}
		for _, t := range tracks {
			t.recv.Close()
		}
		_ = p.pub.Close()
		_ = p.sub.Close()
		for _, t := range tracks {
			t.recv.Wait()
		}
		for _, q := range p.room.others(p) {
			q.unsubscribeAll(tracks)
		}
	})
}

// announceGone tells everyone that p left.
func (r *room) announceGone(p *participant) {
	info := p.info()
	info.State = livekit.ParticipantInfo_DISCONNECTED
	info.Tracks = nil
	r.broadcast(&livekit.SignalResponse{Message: &livekit.SignalResponse_Update{
		Update: &livekit.ParticipantUpdate{Participants: []*livekit.ParticipantInfo{info}},
	}}, p)
}
