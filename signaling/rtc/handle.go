package rtc

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"

	"conclave/sfu/simulcast"
)

// handle runs one signal request from connection c. It reports whether the
// session should end.
func (p *participant) handle(c *conn, req *livekit.SignalRequest) bool {
	switch m := req.Message.(type) {
	case *livekit.SignalRequest_Offer:
		p.handleOffer(m.Offer)
	case *livekit.SignalRequest_Answer:
		p.handleAnswer(m.Answer)
	case *livekit.SignalRequest_Trickle:
		p.handleTrickle(m.Trickle)
	case *livekit.SignalRequest_AddTrack:
		p.handleAddTrack(m.AddTrack)
	case *livekit.SignalRequest_Mute:
		p.handleMute(m.Mute)
	case *livekit.SignalRequest_Subscription:
		p.handleSubscription(m.Subscription)
	case *livekit.SignalRequest_TrackSetting:
		p.handleTrackSettings(m.TrackSetting)
	case *livekit.SignalRequest_Leave:
		p.leave(livekit.DisconnectReason_CLIENT_INITIATED)
		if h := p.room.h; h.cfg.Gate != nil {
			// A goodbye, not a dropped connection: the MLS group removes
			// the participant's leaf (and keys) now.
			h.cfg.Gate.Left(p.room.key, p.identity)
		}
		return true
	case *livekit.SignalRequest_Ping:
		c.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Pong{Pong: m.Ping}})
	case *livekit.SignalRequest_PingReq:
		c.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_PongResp{PongResp: &livekit.Pong{
			LastPingTimestamp: m.PingReq.GetTimestamp(), Timestamp: time.Now().UnixMilli(),
		}}})
	case *livekit.SignalRequest_UpdateLayers, *livekit.SignalRequest_SyncState,
		*livekit.SignalRequest_SubscriptionPermission, *livekit.SignalRequest_UpdateAudioTrack,
		*livekit.SignalRequest_UpdateVideoTrack:
		// Accepted and not needed: layers are measured, every participant
		// may subscribe to every track, audio features are client-side.
	case *livekit.SignalRequest_UpdateMetadata:
		p.respondError(m.UpdateMetadata.GetRequestId(), livekit.RequestResponse_NOT_ALLOWED,
			"conclave: participants cannot change their name or metadata")
	default:
		p.respondError(0, livekit.RequestResponse_UNSUPPORTED_TYPE,
			fmt.Sprintf("conclave: unsupported signal request %T", req.Message))
	}
	return false
}

func parseSDPType(t string) (webrtc.SDPType, bool) {
	switch t {
	case "offer":
		return webrtc.SDPTypeOffer, true
	case "answer":
		return webrtc.SDPTypeAnswer, true
	}
	return 0, false
}

// handleOffer answers the publisher connection's offer.
func (p *participant) handleOffer(sd *livekit.SessionDescription) {
	if typ, ok := parseSDPType(sd.GetType()); !ok || typ != webrtc.SDPTypeOffer {
		p.respondError(0, livekit.RequestResponse_INVALID_REQUEST, "conclave: offer has the wrong type")
		return
	}
	if err := CheckOfferCodecs(sd.GetSdp()); err != nil {
		p.log.Info("rtc: publisher offer refused", "err", err)
		p.respondError(0, livekit.RequestResponse_INVALID_REQUEST, "conclave: "+err.Error())
		return
	}
	if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sd.GetSdp()}); err != nil {
		p.log.Info("rtc: publisher offer not applied", "err", err)
		p.respondError(0, livekit.RequestResponse_INVALID_REQUEST, "conclave: invalid publisher offer")
		return
	}
	p.flushCandidates(livekit.SignalTarget_PUBLISHER)
	p.unpublishStopped(sd.GetSdp())
	answer, err := p.pub.CreateAnswer(nil)
	if err == nil {
		err = p.pub.SetLocalDescription(answer)
	}
	if err != nil {
		p.log.Info("rtc: publisher answer failed", "err", err)
		p.respondError(0, livekit.RequestResponse_INVALID_REQUEST, "conclave: cannot answer the publisher offer")
		return
	}
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Answer{Answer: &livekit.SessionDescription{
		Type: "answer", Sdp: p.pub.LocalDescription().SDP, Id: sd.GetId(),
	}}})
}

// handleAnswer applies the client's answer to the subscriber offer.
func (p *participant) handleAnswer(sd *livekit.SessionDescription) {
	if typ, ok := parseSDPType(sd.GetType()); !ok || typ != webrtc.SDPTypeAnswer {
		p.respondError(0, livekit.RequestResponse_INVALID_REQUEST, "conclave: answer has the wrong type")
		return
	}
	p.negMu.Lock()
	if !p.offerOut || sd.GetId() != p.offerID {
		p.negMu.Unlock()
		p.log.Debug("rtc: stale subscriber answer ignored", "id", sd.GetId())
		return
	}
	err := p.sub.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sd.GetSdp()})
	p.offerOut = false
	again, restart := p.renegotiate, p.restartICE
	p.renegotiate, p.restartICE = false, false
	p.negMu.Unlock()
	if err != nil {
		p.log.Info("rtc: subscriber answer not applied", "err", err)
		p.respondError(0, livekit.RequestResponse_INVALID_REQUEST, "conclave: invalid subscriber answer")
		return
	}
	p.flushCandidates(livekit.SignalTarget_SUBSCRIBER)
	if again {
		p.negotiate(restart)
	}
}

// maxPendingCandidates bounds candidates buffered before a description.
const maxPendingCandidates = 64

func (p *participant) handleTrickle(t *livekit.TrickleRequest) {
	var c webrtc.ICECandidateInit
	if len(t.GetCandidateInit()) > 4096 || json.Unmarshal([]byte(t.GetCandidateInit()), &c) != nil {
		p.respondError(0, livekit.RequestResponse_INVALID_REQUEST, "conclave: malformed ICE candidate")
		return
	}
	var pc *webrtc.PeerConnection
	switch t.GetTarget() {
	case livekit.SignalTarget_PUBLISHER:
		pc = p.pub
	case livekit.SignalTarget_SUBSCRIBER:
		pc = p.sub.PC
	default:
		p.respondError(0, livekit.RequestResponse_INVALID_REQUEST, "conclave: unknown trickle target")
		return
	}
	if pc.RemoteDescription() == nil {
		p.mu.Lock()
		if t.GetTarget() == livekit.SignalTarget_PUBLISHER && len(p.pubCands) < maxPendingCandidates {
			p.pubCands = append(p.pubCands, c)
		} else if t.GetTarget() == livekit.SignalTarget_SUBSCRIBER && len(p.subCands) < maxPendingCandidates {
			p.subCands = append(p.subCands, c)
		}
		p.mu.Unlock()
		return
	}
	if err := pc.AddICECandidate(c); err != nil {
		p.log.Debug("rtc: remote candidate refused", "err", err)
	}
}

func (p *participant) flushCandidates(target livekit.SignalTarget) {
	p.mu.Lock()
	var cands []webrtc.ICECandidateInit
	pc := p.pub
	if target == livekit.SignalTarget_PUBLISHER {
		cands, p.pubCands = p.pubCands, nil
	} else {
		cands, p.subCands = p.subCands, nil
		pc = p.sub.PC
	}
	p.mu.Unlock()
	for _, c := range cands {
		if err := pc.AddICECandidate(c); err != nil {
			p.log.Debug("rtc: remote candidate refused", "err", err)
		}
	}
}

func (p *participant) handleMute(m *livekit.MuteTrackRequest) {
	p.mu.Lock()
	t, ok := p.tracks[m.GetSid()]
	if ok {
		t.info.Muted = m.GetMuted()
	} else {
		for _, info := range p.pending {
			if info.Sid == m.GetSid() {
				info.Muted = m.GetMuted()
				ok = true
			}
		}
	}
	p.mu.Unlock()
	if !ok {
		p.respondError(0, livekit.RequestResponse_NOT_FOUND, "conclave: mute of an unknown track")
		return
	}
	p.room.announce(p)
}

func (p *participant) handleSubscription(u *livekit.UpdateSubscription) {
	if !p.subscr {
		p.respondError(0, livekit.RequestResponse_NOT_ALLOWED, "conclave: this participant may not subscribe")
		return
	}
	sids := append([]string(nil), u.GetTrackSids()...)
	for _, pt := range u.GetParticipantTracks() {
		sids = append(sids, pt.GetTrackSids()...)
	}
	changed := false
	for _, sid := range sids {
		if !u.GetSubscribe() {
			if _, ok := p.sub.Track(sid); ok {
				_ = p.sub.RemoveTrack(sid)
				changed = true
			}
			continue
		}
		if owner, t := p.room.findTrack(sid); t != nil && owner != p {
			if p.subscribe(owner, t) {
				changed = true
			}
		}
	}
	if changed {
		p.negotiate(false)
	}
}

// qualityRequest maps UpdateTrackSettings to a layer request.
func qualityRequest(s *livekit.UpdateTrackSettings) simulcast.Request {
	req := simulcast.Request{Disabled: s.GetDisabled(), Width: s.GetWidth(), Height: s.GetHeight()}
	switch s.GetQuality() {
	case livekit.VideoQuality_LOW:
		req.MaxQuality = simulcast.Low
	case livekit.VideoQuality_MEDIUM:
		req.MaxQuality = simulcast.Medium
	case livekit.VideoQuality_OFF:
		req.Disabled = true
	default:
		req.MaxQuality = simulcast.High
	}
	if req.Width > 0 || req.Height > 0 {
		// A size request is not capped by the (default LOW) quality field.
		req.MaxQuality = simulcast.High
	}
	return req
}

func (p *participant) handleTrackSettings(s *livekit.UpdateTrackSettings) {
	req := qualityRequest(s)
	for _, sid := range s.GetTrackSids() {
		if d, ok := p.sub.Track(sid); ok {
			d.SetRequest(req)
		}
	}
	p.sub.Reallocate()
}
