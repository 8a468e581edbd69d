package rtc

import (
	"fmt"
	"sort"
	"strings"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"conclave/sfu"
	"conclave/sfu/simulcast"
)

// handleAddTrack answers AddTrackRequest: the track is announced to the
// publisher now and to the room when its media arrives.
func (p *participant) handleAddTrack(req *livekit.AddTrackRequest) {
	reject := func(reason livekit.RequestResponse_Reason, msg string) {
		p.log.Info("rtc: track refused", "reason", reason.String(), "kind", req.GetType().String())
		p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_RequestResponse{RequestResponse: &livekit.RequestResponse{
			Reason: reason, Message: msg, Request: &livekit.RequestResponse_AddTrack{AddTrack: req},
		}}})
	}
	if !p.publish {
		reject(livekit.RequestResponse_NOT_ALLOWED, "conclave: this participant may not publish")
		return
	}
	// The core property: the SFU carries only end-to-end encrypted media.
	if req.GetEncryption() == livekit.Encryption_NONE {
		reject(livekit.RequestResponse_NOT_ALLOWED, fmt.Sprintf(
			"conclave: track %q refused: every track must be end-to-end encrypted (encryption GCM), this one declares NONE",
			req.GetName()))
		return
	}
	if req.GetType() != livekit.TrackType_AUDIO && req.GetType() != livekit.TrackType_VIDEO {
		reject(livekit.RequestResponse_UNSUPPORTED_TYPE, "conclave: only audio and video tracks are supported")
		return
	}
	if req.GetCid() == "" || len(req.GetCid()) > 256 {
		reject(livekit.RequestResponse_INVALID_REQUEST, "conclave: track has no valid client id")
		return
	}
	p.mu.Lock()
	if _, dup := p.pending[req.GetCid()]; dup || p.byCID[req.GetCid()] != nil {
		p.mu.Unlock()
		reject(livekit.RequestResponse_DUPLICATE_HANDLE, "conclave: a track with this client id is already published")
		return
	}
	if len(p.pending)+len(p.tracks) >= p.h.engine.MaxTracksPerPublisher() {
		p.mu.Unlock()
		reject(livekit.RequestResponse_LIMIT_EXCEEDED, "conclave: too many tracks")
		return
	}
	layers := append([]*livekit.VideoLayer(nil), req.GetLayers()...)
	sort.Slice(layers, func(i, j int) bool { return layers[i].GetQuality() < layers[j].GetQuality() })
	if len(layers) > simulcast.MaxLayers {
		layers = layers[:simulcast.MaxLayers]
	}
	info := &livekit.TrackInfo{
		Sid: newID("TR_"), Type: req.GetType(), Name: req.GetName(), Muted: req.GetMuted(),
		Width: req.GetWidth(), Height: req.GetHeight(), Simulcast: len(layers) > 1,
		Source: req.GetSource(), Layers: layers, Encryption: req.GetEncryption(),
		Stream: req.GetStream(), DisableDtx: req.GetDisableDtx(), Stereo: req.GetStereo(),
		DisableRed: true, AudioFeatures: req.GetAudioFeatures(),
	}
	if req.GetType() == livekit.TrackType_AUDIO {
		info.MimeType = webrtc.MimeTypeOpus
	} else {
		info.MimeType = webrtc.MimeTypeVP8
	}
	p.pending[req.GetCid()] = info
	p.mu.Unlock()
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_TrackPublished{TrackPublished: &livekit.TrackPublishedResponse{
		Cid: req.GetCid(), Track: info,
	}}})
}

// onTrack attaches an incoming stream (one simulcast layer) to its track,
// publishing the track to the room on its first stream.
func (p *participant) onTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	codec := track.Codec()
	if !sfu.SupportedCodec(codec.MimeType) {
		p.log.Info("rtc: stream with unsupported codec ignored", "codec", codec.MimeType)
		return
	}
	quality, ok := simulcast.QualityForRID(track.RID())
	if !ok {
		p.log.Info("rtc: stream with unknown rid ignored")
		return
	}
	kind := livekit.TrackType_AUDIO
	if track.Kind() == webrtc.RTPCodecTypeVideo {
		kind = livekit.TrackType_VIDEO
	}
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return
	}
	cid := track.ID()
	t := p.byCID[cid]
	var info *livekit.TrackInfo
	if t == nil {
		info = p.pending[cid]
		if info == nil {
			// Some clients do not carry the cid in the msid: take the only
			// pending track of this kind.
			for c, i := range p.pending {
				if i.Type == kind {
					if info != nil {
						info = nil
						break
					}
					info, cid = i, c
				}
			}
		}
		if info == nil || info.Type != kind {
			p.mu.Unlock()
			p.log.Info("rtc: stream for a track never announced with AddTrackRequest ignored", "kind", kind.String())
			return
		}
		delete(p.pending, cid)
		layers := make([]simulcast.Layer, 0, len(info.Layers))
		for _, l := range info.Layers {
			layers = append(layers, simulcast.Layer{Width: l.GetWidth(), Height: l.GetHeight()})
		}
		info.Mid = midOf(p.pub, recv)
		r := sfu.NewReceiver(sfu.ReceiverConfig{
			TrackID: info.Sid, Kind: track.Kind(), WriteRTCP: p.pub.WriteRTCP, Layers: layers,
			Observe: p.h.engine.Observer(), Stats: p.h.engine.Stats(), Batch: p.h.engine.Batcher(),
		}, codec, p.log)
		t = &pubTrack{info: info, recv: r}
		p.byCID[cid] = t
		p.tracks[info.Sid] = t
	}
	p.mu.Unlock()

	if err := t.recv.AddLayer(track, recv, quality); err != nil {
		p.log.Info("rtc: stream not attached", "err", err)
		return
	}
	if info == nil {
		return // a further simulcast layer of a published track
	}
	p.log.Info("rtc: track published", "track", info.Sid, "kind", kind.String(), "layers", len(info.Layers))
	p.room.announce(p)
	for _, q := range p.room.others(p) {
		if q.subscr && q.autoSub && q.subscribe(p, t) {
			q.negotiate(false)
		}
	}
}

func midOf(pc *webrtc.PeerConnection, recv *webrtc.RTPReceiver) string {
	for _, tr := range pc.GetTransceivers() {
		if tr.Receiver() == recv {
			return tr.Mid()
		}
	}
	return ""
}

// subscribe adds owner's track t to p's subscriber connection; the caller
// negotiates. It reports whether anything changed.
func (p *participant) subscribe(owner *participant, t *pubTrack) bool {
	if !p.h.admits(p) || !p.h.admits(owner) {
		return false // the media gate (gate.go)
	}
	if _, ok := p.sub.Track(t.info.Sid); ok {
		return false
	}
	if _, err := p.sub.AddTrack(t.recv, t.info.Sid, owner.sid+"|"+t.info.Sid); err != nil {
		p.log.Debug("rtc: subscription failed", "track", t.info.Sid, "err", err)
		return false
	}
	return true
}

// unsubscribeAll removes subscriptions to tracks (of a participant that
// left) and renegotiates.
func (p *participant) unsubscribeAll(tracks []*pubTrack) {
	changed := false
	for _, t := range tracks {
		if _, ok := p.sub.Track(t.info.Sid); ok {
			_ = p.sub.RemoveTrack(t.info.Sid)
			changed = true
		}
	}
	if changed {
		p.negotiate(false)
	}
}

// unpublishStopped ends the tracks whose m-section the publisher's new offer
// no longer sends: livekit-client unpublishes a track (a stopped screen
// share, say) by removing its sender and renegotiating, with no signal
// message of its own. The offer has already been applied, so it parses.
func (p *participant) unpublishStopped(offer string) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return
	}
	stopped := map[string]bool{}
	for _, m := range sd.MediaDescriptions {
		mid, _ := m.Attribute("mid")
		if mid == "" {
			continue
		}
		// RFC 8829 Section 5.2.2 (a stopped transceiver has port 0) and
		// RFC 3264 Section 6.1 (an offerer that will not send marks the
		// stream recvonly or inactive).
		if m.MediaName.Port.Value == 0 {
			stopped[mid] = true
			continue
		}
		for _, a := range m.Attributes {
			if a.Key == "inactive" || a.Key == "recvonly" {
				stopped[mid] = true
			}
		}
	}
	if len(stopped) == 0 {
		return
	}
	var gone []*pubTrack
	p.mu.Lock()
	for sid, t := range p.tracks {
		if t.info.Mid == "" || !stopped[t.info.Mid] {
			continue
		}
		gone = append(gone, t)
		delete(p.tracks, sid)
		for cid, bt := range p.byCID {
			if bt == t {
				delete(p.byCID, cid)
			}
		}
	}
	p.mu.Unlock()
	if len(gone) == 0 {
		return
	}
	for _, q := range p.room.others(p) {
		q.unsubscribeAll(gone)
	}
	for _, t := range gone {
		t.recv.Close()
		p.log.Info("rtc: track unpublished", "track", t.info.Sid)
	}
	p.room.announce(p)
}

// findTrack finds a published track by SID.
func (r *room) findTrack(sid string) (*participant, *pubTrack) {
	r.mu.Lock()
	parts := make([]*participant, 0, len(r.parts))
	for _, p := range r.parts {
		parts = append(parts, p)
	}
	r.mu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		t := p.tracks[sid]
		p.mu.Unlock()
		if t != nil {
			return p, t
		}
	}
	return nil, nil
}

// negotiate sends a subscriber offer, or marks one as needed once the
// outstanding offer is answered (one offer at a time, RFC 8829 Section 4.1.8).
func (p *participant) negotiate(iceRestart bool) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.offerOut {
		p.renegotiate = true
		p.restartICE = p.restartICE || iceRestart
		return
	}
	if p.sub.PC.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return
	}
	offer, err := p.sub.PC.CreateOffer(&webrtc.OfferOptions{ICERestart: iceRestart})
	if err == nil {
		err = p.sub.PC.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Info("rtc: subscriber offer failed", "err", err)
		return
	}
	p.offerID++
	mids := map[string]string{}
	for _, tr := range p.sub.PC.GetTransceivers() {
		if s := tr.Sender(); s != nil && s.Track() != nil && tr.Mid() != "" {
			mids[tr.Mid()] = s.Track().ID()
		}
	}
	if p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Offer{Offer: &livekit.SessionDescription{
		Type: "offer", Sdp: p.sub.PC.LocalDescription().SDP, Id: p.offerID, MidToTrackId: mids,
	}}}) {
		p.offerOut = true
	}
}

// supportedCodecNames lists, for error messages, the codecs the SFU forwards.
var supportedCodecNames = strings.Join([]string{"opus", "VP8"}, ", ")
