package rtctest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"
)

// Client is a minimal LiveKit signal client over pion.
type Client struct {
	ws   *websocket.Conn
	wmu  sync.Mutex
	Join *livekit.JoinResponse

	pub, sub *webrtc.PeerConnection

	mu           sync.Mutex
	participants map[string]*livekit.ParticipantInfo // by SID
	published    map[string]*livekit.TrackInfo       // by cid
	senders      map[string]*webrtc.RTPSender        // by cid
	received     map[string]*TrackStats              // by track SID
	responses    []*livekit.RequestResponse
	speakers     map[string]bool
	leave        *livekit.LeaveRequest
	pubCands     []webrtc.ICECandidateInit
	subCands     []webrtc.ICECandidateInit
	pongs        int
	refreshed    string
	closedRead   chan struct{}
	reconnectRes *livekit.ReconnectResponse

	// feedback counts transport-wide feedback packets the SFU sent the
	// publisher connection.
	feedback atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup
}

// TransportFeedback is how many transport-wide congestion control feedback
// packets (RTCP TransportLayerCC) the publisher connection received.
func (c *Client) TransportFeedback() int64 { return c.feedback.Load() }

// TrackStats counts what one subscribed track delivered.
type TrackStats struct {
	Packets   int
	Keyframes int
	// Layers counts packets by the layer byte the publisher wrote.
	Layers [3]int
	Last   int // layer of the last packet
}

// newAPI builds a client pion API like a browser's: default interceptors
// (NACK, reports, TWCC feedback), transport-wide sequence numbers, simulcast and audio level header extensions,
// loopback candidates.
func newAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, err
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: "urn:ietf:params:rtp-hdrext:ssrc-audio-level"}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}
	// Browsers number their outgoing packets for transport-wide feedback.
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// Dial joins as a new participant.
func Dial(ctx context.Context, serverURL, tok string) (*Client, error) {
	c := &Client{
		participants: map[string]*livekit.ParticipantInfo{}, published: map[string]*livekit.TrackInfo{}, senders: map[string]*webrtc.RTPSender{},
		received: map[string]*TrackStats{}, speakers: map[string]bool{}, stop: make(chan struct{}),
	}
	api, err := newAPI()
	if err != nil {
		return nil, err
	}
	if c.pub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, err
	}
	if c.sub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, err
	}
	c.pub.OnICECandidate(func(ic *webrtc.ICECandidate) { c.trickle(ic, livekit.SignalTarget_PUBLISHER) })
	c.sub.OnICECandidate(func(ic *webrtc.ICECandidate) { c.trickle(ic, livekit.SignalTarget_SUBSCRIBER) })
	c.sub.OnTrack(c.onTrack)
	if err := c.connect(ctx, serverURL, tok, ""); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) connect(ctx context.Context, serverURL, tok, resumeSID string) error {
	q := url.Values{"access_token": {tok}, "protocol": {"17"}, "auto_subscribe": {"1"}, "sdk": {"go"}}
	if resumeSID != "" {
		q.Set("reconnect", "1")
		q.Set("sid", resumeSID)
	}
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, serverURL+"/rtc?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("rtctest: dial: %w", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	first, err := readResponse(ws)
	if err != nil {
		_ = ws.Close()
		return err
	}
	_ = ws.SetReadDeadline(time.Time{})
	switch m := first.Message.(type) {
	case *livekit.SignalResponse_Join:
		c.Join = m.Join
		c.mu.Lock()
		for _, p := range m.Join.OtherParticipants {
			c.participants[p.Sid] = p
		}
		c.mu.Unlock()
	case *livekit.SignalResponse_Reconnect:
		c.mu.Lock()
		c.reconnectRes = m.Reconnect
		c.mu.Unlock()
	case *livekit.SignalResponse_Leave:
		_ = ws.Close()
		return fmt.Errorf("rtctest: server sent leave (%s) instead of join", m.Leave.Reason)
	default:
		_ = ws.Close()
		return fmt.Errorf("rtctest: first message is %T", first.Message)
	}
	c.wmu.Lock()
	c.ws = ws
	c.wmu.Unlock()
	done := make(chan struct{})
	c.mu.Lock()
	c.closedRead = done
	c.mu.Unlock()
	c.wg.Add(1)
	go c.readLoop(ws, done)
	return nil
}

func readResponse(ws *websocket.Conn) (*livekit.SignalResponse, error) {
	_, data, err := ws.ReadMessage()
	if err != nil {
		return nil, fmt.Errorf("rtctest: read: %w", err)
	}
	res := &livekit.SignalResponse{}
	if err := proto.Unmarshal(data, res); err != nil {
		return nil, fmt.Errorf("rtctest: decode: %w", err)
	}
	return res, nil
}

// Send writes a request.
func (c *Client) Send(req *livekit.SignalRequest) error {
	b, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	return c.SendRaw(websocket.BinaryMessage, b)
}

// SendRaw writes raw bytes as one WebSocket message.
func (c *Client) SendRaw(kind int, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ws == nil {
		return errors.New("rtctest: not connected")
	}
	return c.ws.WriteMessage(kind, b)
}

func (c *Client) readLoop(ws *websocket.Conn, done chan struct{}) {
	defer c.wg.Done()
	defer close(done)
	for {
		res, err := readResponse(ws)
		if err != nil {
			return
		}
		c.dispatch(res)
	}
}

func (c *Client) dispatch(res *livekit.SignalResponse) {
	switch m := res.Message.(type) {
	case *livekit.SignalResponse_Offer:
		if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.Offer.Sdp}); err != nil {
			return
		}
		c.flush(livekit.SignalTarget_SUBSCRIBER)
		ans, err := c.sub.CreateAnswer(nil)
		if err != nil {
			return
		}
		if err := c.sub.SetLocalDescription(ans); err != nil {
			return
		}
		_ = c.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Answer{Answer: &livekit.SessionDescription{
			Type: "answer", Sdp: c.sub.LocalDescription().SDP, Id: m.Offer.Id,
		}}})
	case *livekit.SignalResponse_Answer:
		if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.Answer.Sdp}); err == nil {
			c.flush(livekit.SignalTarget_PUBLISHER)
		}
	case *livekit.SignalResponse_Trickle:
		var ic webrtc.ICECandidateInit
		if json.Unmarshal([]byte(m.Trickle.CandidateInit), &ic) != nil {
			return
		}
		pc := c.pub
		if m.Trickle.Target == livekit.SignalTarget_SUBSCRIBER {
			pc = c.sub
		}
		if pc.RemoteDescription() == nil {
			c.mu.Lock()
			if pc == c.pub {
				c.pubCands = append(c.pubCands, ic)
			} else {
				c.subCands = append(c.subCands, ic)
			}
			c.mu.Unlock()
			return
		}
		_ = pc.AddICECandidate(ic)
	case *livekit.SignalResponse_Update:
		c.mu.Lock()
		for _, p := range m.Update.Participants {
			if p.State == livekit.ParticipantInfo_DISCONNECTED {
				delete(c.participants, p.Sid)
			} else {
				c.participants[p.Sid] = p
			}
		}
		c.mu.Unlock()
	case *livekit.SignalResponse_TrackPublished:
		c.mu.Lock()
		c.published[m.TrackPublished.Cid] = m.TrackPublished.Track
		c.mu.Unlock()
	case *livekit.SignalResponse_RequestResponse:
		c.mu.Lock()
		c.responses = append(c.responses, m.RequestResponse)
		c.mu.Unlock()
	case *livekit.SignalResponse_SpeakersChanged:
		c.mu.Lock()
		for _, s := range m.SpeakersChanged.Speakers {
			c.speakers[s.Sid] = s.Active
		}
		c.mu.Unlock()
	case *livekit.SignalResponse_Leave:
		c.mu.Lock()
		c.leave = m.Leave
		c.mu.Unlock()
	case *livekit.SignalResponse_RefreshToken:
		c.mu.Lock()
		c.refreshed = m.RefreshToken
		c.mu.Unlock()
	case *livekit.SignalResponse_PongResp, *livekit.SignalResponse_Pong:
		c.mu.Lock()
		c.pongs++
		c.mu.Unlock()
	}
}

func (c *Client) flush(target livekit.SignalTarget) {
	c.mu.Lock()
	var cands []webrtc.ICECandidateInit
	pc := c.pub
	if target == livekit.SignalTarget_PUBLISHER {
		cands, c.pubCands = c.pubCands, nil
	} else {
		cands, c.subCands = c.subCands, nil
		pc = c.sub
	}
	c.mu.Unlock()
	for _, ic := range cands {
		_ = pc.AddICECandidate(ic)
	}
}

func (c *Client) trickle(ic *webrtc.ICECandidate, target livekit.SignalTarget) {
	if ic == nil {
		return
	}
	b, _ := json.Marshal(ic.ToJSON())
	_ = c.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{
		CandidateInit: string(b), Target: target,
	}}})
}

func (c *Client) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	sid := t.ID()
	c.mu.Lock()
	st := &TrackStats{Last: -1}
	c.received[sid] = st
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			p, _, err := t.ReadRTP()
			if err != nil {
				return
			}
			c.mu.Lock()
			st.Packets++
			if t.Kind() == webrtc.RTPCodecTypeVideo && len(p.Payload) >= 3 {
				if p.Payload[1]&1 == 0 {
					st.Keyframes++
				}
				if l := int(p.Payload[2]); l < 3 {
					st.Layers[l]++
					st.Last = l
				}
			}
			c.mu.Unlock()
		}
	}()
}

// Publish announces a track (AddTrackRequest), waits for TrackPublished and
// negotiates the publisher connection, then sends synthetic media until
// Close. Video with layers > 1 is simulcast with rids q, h, f.
func (c *Client) Publish(ctx context.Context, kind livekit.TrackType, layers int, enc livekit.Encryption_Type) (*livekit.TrackInfo, error) {
	cid := fmt.Sprintf("cid-%s-%d", kind, time.Now().UnixNano())
	req := &livekit.AddTrackRequest{Cid: cid, Name: kind.String(), Type: kind, Encryption: enc}
	var tracks []*webrtc.TrackLocalStaticRTP
	var sender *webrtc.RTPSender
	var transceiver *webrtc.RTPTransceiver
	var err error
	if kind == livekit.TrackType_AUDIO {
		req.Source = livekit.TrackSource_MICROPHONE
		t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, cid, "stream")
		if err != nil {
			return nil, err
		}
		tracks = append(tracks, t)
		tr, err := c.pub.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, err
		}
		sender = tr.Sender()
		transceiver = tr
	} else {
		req.Source = livekit.TrackSource_CAMERA
		req.Width, req.Height = 1280, 720
		rids := []string{"q", "h", "f"}[:layers]
		for i, rid := range rids {
			opts := []func(*webrtc.TrackLocalStaticRTP){}
			if layers > 1 {
				opts = append(opts, webrtc.WithRTPStreamID(rid))
			}
			t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, cid, "stream", opts...)
			if err != nil {
				return nil, err
			}
			tracks = append(tracks, t)
			div := uint32(1) << (len(rids) - 1 - i)
			req.Layers = append(req.Layers, &livekit.VideoLayer{Quality: livekit.VideoQuality(i), Width: 1280 / div, Height: 720 / div, Rid: rid})
		}
		tr, err := c.pub.AddTransceiverFromTrack(tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, err
		}
		sender = tr.Sender()
		transceiver = tr
		for _, t := range tracks[1:] {
			if err := sender.AddEncoding(t); err != nil {
				return nil, err
			}
		}
	}
	if err := c.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: req}}); err != nil {
		return nil, err
	}
	var info *livekit.TrackInfo
	for info == nil {
		c.mu.Lock()
		info = c.published[cid]
		c.mu.Unlock()
		if info != nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("rtctest: no TrackPublished: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	c.mu.Lock()
	c.senders[cid] = sender
	c.mu.Unlock()
	if err = c.negotiate(); err != nil {
		return nil, err
	}
	mid := transceiver.Mid()
	c.startMedia(kind, tracks, sender, mid)
	return info, nil
}

// Published returns the tracks the server confirmed, by client id.
func (c *Client) Published() map[string]*livekit.TrackInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]*livekit.TrackInfo, len(c.published))
	for k, v := range c.published {
		out[k] = v
	}
	return out
}

// Unpublish stops sending the track published with client id cid the way
// livekit-client does: it removes the sender and renegotiates, without a
// signal message of its own.
func (c *Client) Unpublish(cid string) error {
	c.mu.Lock()
	sender := c.senders[cid]
	delete(c.senders, cid)
	c.mu.Unlock()
	if sender == nil {
		return fmt.Errorf("rtctest: no published track %q", cid)
	}
	if err := c.pub.RemoveTrack(sender); err != nil {
		return err
	}
	return c.negotiate()
}

func (c *Client) negotiate() error {
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		return err
	}
	return c.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{
		Type: "offer", Sdp: c.pub.LocalDescription().SDP, Id: 1,
	}}})
}

// startMedia sends 30 frames/s per video layer (one packet per frame, a
// keyframe every 2 s and on PLI) or 50 Opus packets/s.
func (c *Client) startMedia(kind livekit.TrackType, tracks []*webrtc.TrackLocalStaticRTP, sender *webrtc.RTPSender, mid string) {
	var keyframe sync.Map
	for i, t := range tracks {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				var pkts []rtcp.Packet
				var err error
				if t.RID() == "" {
					pkts, _, err = sender.ReadRTCP()
				} else {
					pkts, _, err = sender.ReadSimulcastRTCP(t.RID())
				}
				if err != nil {
					return
				}
				for _, p := range pkts {
					switch p.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						keyframe.Store(i, true)
					case *rtcp.TransportLayerCC:
						c.feedback.Add(1)
					}
				}
			}
		}()
	}
	// pion does not write the mid and rid header extensions (RFC 8843,
	// RFC 8852) that identify simulcast streams; write them here.
	var midID, ridID, levelID uint8
	for _, e := range sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case "urn:ietf:params:rtp-hdrext:sdes:mid":
			midID = uint8(e.ID)
		case "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id":
			ridID = uint8(e.ID)
		case "urn:ietf:params:rtp-hdrext:ssrc-audio-level":
			levelID = uint8(e.ID)
		}
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		interval := 33 * time.Millisecond
		if kind == livekit.TrackType_AUDIO {
			interval = 20 * time.Millisecond
		}
		tick := time.NewTicker(interval)
		defer tick.Stop()
		var n uint32
		seq := make([]uint16, len(tracks))
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			n++
			for i, t := range tracks {
				seq[i]++
				var payload []byte
				hdr := rtp.Header{Version: 2, SequenceNumber: seq[i], Marker: true}
				if kind == livekit.TrackType_AUDIO {
					hdr.Timestamp = n * 960
					payload = make([]byte, 80)
					payload[0] = 0xfc
				} else {
					hdr.Timestamp = n * 3000
					key := n%60 == 1
					if v, ok := keyframe.LoadAndDelete(i); ok && v.(bool) {
						key = true
					}
					payload = make([]byte, 200<<i)
					payload[0] = 0x10 // VP8 descriptor: S=1, PID=0
					payload[1] = 1    // P=1: delta frame
					if key {
						payload[1] = 0
					}
					payload[2] = byte(i)
					binary.BigEndian.PutUint32(payload[3:], n)
				}
				if midID != 0 && mid != "" {
					_ = hdr.SetExtension(midID, []byte(mid))
				}
				if ridID != 0 && t.RID() != "" {
					_ = hdr.SetExtension(ridID, []byte(t.RID()))
				}
				if levelID != 0 && kind == livekit.TrackType_AUDIO {
					// RFC 6464: voice activity, -20 dBov.
					_ = hdr.SetExtension(levelID, []byte{0x80 | 20})
				}
				_ = t.WriteRTP(&rtp.Packet{Header: hdr, Payload: payload})
			}
		}
	}()
}

// Participants returns the other participants by identity.
func (c *Client) Participants() map[string]*livekit.ParticipantInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*livekit.ParticipantInfo{}
	for _, p := range c.participants {
		out[p.Identity] = p
	}
	return out
}

// Received returns a copy of the stats of each subscribed track by SID.
func (c *Client) Received() map[string]TrackStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]TrackStats{}
	for sid, s := range c.received {
		out[sid] = *s
	}
	return out
}

// Responses returns the RequestResponses received.
func (c *Client) Responses() []*livekit.RequestResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*livekit.RequestResponse(nil), c.responses...)
}

// Speaking reports the last speaker state received for a participant SID.
func (c *Client) Speaking(sid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.speakers[sid]
}

// Leave is the LeaveRequest the server sent, if any.
func (c *Client) Leave() *livekit.LeaveRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leave
}

// RefreshedToken is the last token the server sent with refresh_token.
func (c *Client) RefreshedToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refreshed
}

// Pongs counts pong responses.
func (c *Client) Pongs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pongs
}

// SubscriberConnected reports whether the subscriber connection is up.
func (c *Client) SubscriberConnected() bool {
	return c.sub.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// DropSignal cuts the WebSocket without a leave, as a network failure would.
func (c *Client) DropSignal() {
	c.wmu.Lock()
	ws := c.ws
	c.ws = nil
	c.wmu.Unlock()
	if ws != nil {
		_ = ws.Close()
	}
	c.mu.Lock()
	done := c.closedRead
	c.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Resume reconnects the signal connection (reconnect=1) keeping the peer
// connections, and restarts ICE on the publisher as livekit-client does.
func (c *Client) Resume(ctx context.Context, serverURL, tok string) error {
	if err := c.connect(ctx, serverURL, tok, c.Join.Participant.Sid); err != nil {
		return err
	}
	c.mu.Lock()
	ok := c.reconnectRes != nil
	c.mu.Unlock()
	if !ok {
		return errors.New("rtctest: no ReconnectResponse")
	}
	if c.pub.RemoteDescription() == nil {
		return nil
	}
	offer, err := c.pub.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return err
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		return err
	}
	return c.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{
		Type: "offer", Sdp: c.pub.LocalDescription().SDP, Id: 2,
	}}})
}

// LeaveRoom sends a LeaveRequest.
func (c *Client) LeaveRoom() error {
	return c.Send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Leave{Leave: &livekit.LeaveRequest{
		Reason: livekit.DisconnectReason_CLIENT_INITIATED, Action: livekit.LeaveRequest_DISCONNECT,
	}}})
}

// Close ends everything the client started.
func (c *Client) Close() {
	select {
	case <-c.stop:
		return
	default:
		close(c.stop)
	}
	c.DropSignal()
	if c.pub != nil {
		_ = c.pub.Close()
	}
	if c.sub != nil {
		_ = c.sub.Close()
	}
	c.wg.Wait()
}
