package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"
)

const (
	resumeDialWait     = 5 * time.Second
	resumeFirstBackoff = 100 * time.Millisecond
)

// resume reconnects the signal connection of the same session, as
// livekit-client's RTCEngine.resumeConnection does: a new WebSocket with
// reconnect=1 and the participant SID, a ReconnectResponse, a SyncState,
// and an ICE restart of the publisher connection.
func (b *Bot) resume() error {
	attempts := b.cfg.ResumeAttempts
	if attempts <= 0 {
		attempts = 5
	}
	_, sid := b.Identity()
	delay := resumeFirstBackoff
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		if b.isClosing() {
			return ErrClosed
		}
		b.mu.Lock()
		token := b.token
		b.mu.Unlock()
		sig, err := b.dialResume(token, sid)
		if err == nil {
			b.mu.Lock()
			if b.closing {
				b.mu.Unlock()
				sig.close()
				return ErrClosed
			}
			old := b.sig
			b.sig = sig
			b.resumes++
			b.lastPong = time.Now()
			b.mu.Unlock()
			old.close()
			b.log.Info("signal connection resumed", "attempt", attempt)
			b.sendSyncState()
			if b.pub != nil {
				if err := b.negotiatePublisher(true); err != nil {
					b.log.Warn("publisher ICE restart failed", "err", err)
				}
			}
			return nil
		}
		last = err
		b.log.Info("resume attempt failed", "attempt", attempt, "err", err)
		if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrLeft) {
			break
		}
		select {
		case <-b.ctx.Done():
			return ErrClosed
		case <-time.After(delay):
		}
		delay *= 2
	}
	return fmt.Errorf("%w: %w", ErrResumeFailed, last)
}

func (b *Bot) dialResume(token, sid string) (*signalConn, error) {
	u, err := signalURL(b.url, token, true, sid, livekit.ReconnectReason_RR_SIGNAL_DISCONNECTED)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(b.ctx, resumeDialWait)
	defer cancel()
	sig, err := dialSignal(ctx, b.cfg.Dialer, u)
	if err != nil {
		return nil, err
	}
	if _, err := readFirst(sig, func(r *livekit.SignalResponse) bool { return r.GetReconnect() != nil }); err != nil {
		sig.close()
		return nil, err
	}
	return sig, nil
}

// sendSyncState tells the server what the bot believes after a resume
// (client-sdk-js: Room.sendSyncState): its subscriber answer, its
// subscriptions and its published tracks.
func (b *Bot) sendSyncState() {
	// With auto-subscribe and every track wanted, livekit-client lists no
	// track SIDs here: the list holds the exceptions to auto-subscription.
	state := &livekit.SyncState{
		Subscription: &livekit.UpdateSubscription{Subscribe: false},
	}
	if ld := b.subC.pc.LocalDescription(); ld != nil && ld.Type == webrtc.SDPTypeAnswer {
		state.Answer = &livekit.SessionDescription{Type: "answer", Sdp: ld.SDP}
	}
	if ld := b.pubC.pc.LocalDescription(); ld != nil && ld.Type == webrtc.SDPTypeOffer {
		state.Offer = &livekit.SessionDescription{Type: "offer", Sdp: browserLikeSDP(ld.SDP)}
	}
	if b.pub != nil {
		if b.pub.audioInfo != nil {
			state.PublishTracks = append(state.PublishTracks, &livekit.TrackPublishedResponse{Cid: b.pub.audioCID, Track: b.pub.audioInfo})
		}
		if b.pub.videoInfo != nil {
			state.PublishTracks = append(state.PublishTracks, &livekit.TrackPublishedResponse{Cid: b.pub.videoCID, Track: b.pub.videoInfo})
		}
	}
	b.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_SyncState{SyncState: state}})
}
