package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"

	"conclave/e2ee/dsproto"
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

// The /e2ee side of a resume. The delivery service keeps a member that
// comes back within its grace period (docs/e2ee-protocol.md, "DS
// behaviour"): the bot opens a new WebSocket with the latest access token
// the DS refreshed (dsproto.RefreshToken; the first token expires after
// TokenTTL, and the DS refuses it), and the session says Hello with its
// epoch, group and leaf, so the DS replays what the bot missed.

// defaultE2EEReconnectAttempts bounds the redials after the /e2ee
// connection drops (E2EEConfig.ReconnectAttempts).
const defaultE2EEReconnectAttempts = 5

// e2eeLink is an E2EE member's /e2ee WebSocket and what it needs to open the
// next one: the signal URL and the latest access token. The token is a
// credential: it is never logged, nor is the URL that carries it.
type e2eeLink struct {
	signalURL string
	dialer    *websocket.Dialer

	wmu sync.Mutex // serialises writes to ws

	mu     sync.Mutex // guards the fields below
	ws     *websocket.Conn
	token  string
	closed bool
}

// dialE2EELink opens /e2ee next to signalURL with token.
func dialE2EELink(ctx context.Context, signalURL, token string, dialer *websocket.Dialer) (*e2eeLink, error) {
	if dialer == nil {
		dialer = websocket.DefaultDialer
	}
	l := &e2eeLink{signalURL: signalURL, dialer: dialer, token: token}
	ws, err := l.dial(ctx, token)
	if err != nil {
		return nil, err
	}
	l.ws = ws
	return l, nil
}

// dial opens one WebSocket. A 401 or 403 is ErrUnauthorized (the token was
// refused: expired, or not valid for this server).
func (l *e2eeLink) dial(ctx context.Context, token string) (*websocket.Conn, error) {
	u, err := e2eeURL(l.signalURL, token)
	if err != nil {
		return nil, err
	}
	ws, resp, err := l.dialer.DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return nil, fmt.Errorf("bot: dial /e2ee: %w (HTTP %d)", ErrUnauthorized, resp.StatusCode)
		}
		return nil, fmt.Errorf("bot: dial /e2ee: %w", err)
	}
	ws.SetReadLimit(dsproto.MaxMessageSize + 1)
	return ws, nil
}

// conn is the current WebSocket (the reader's; writers use write).
func (l *e2eeLink) conn() *websocket.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ws
}

// setToken keeps the latest token for the next dial.
func (l *e2eeLink) setToken(token string) {
	l.mu.Lock()
	l.token = token
	l.mu.Unlock()
}

// currentToken is the token the next dial will use.
func (l *e2eeLink) currentToken() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token
}

// writeAll sends msgs in order on the current WebSocket, as binary
// messages not interleaved with another call's. On failure it closes that
// WebSocket, so that the reader sees the end at once and decides between a
// redial and the end; the messages not yet sent are dropped.
func (l *e2eeLink) writeAll(msgs [][]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	ws := l.conn()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	for _, b := range msgs {
		if err := ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
			ws.Close()
			return fmt.Errorf("%w: %w", ErrE2EEClosed, err)
		}
	}
	return nil
}

// redial replaces the WebSocket with a new one opened with the latest
// token. After close it fails with ErrE2EEClosed.
func (l *e2eeLink) redial(ctx context.Context) error {
	ws, err := l.dial(ctx, l.currentToken())
	if err != nil {
		return err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		ws.Close()
		return ErrE2EEClosed
	}
	old := l.ws
	l.ws = ws
	l.mu.Unlock()
	old.Close()
	return nil
}

// close closes the WebSocket and refuses later redials.
func (l *e2eeLink) close() {
	l.mu.Lock()
	l.closed = true
	ws := l.ws
	l.mu.Unlock()
	ws.Close()
}

// resumableE2EE reports whether the DS's last error code before the
// connection ended allows a reconnect: none (the network dropped it), a
// message not allowed (which closes nothing), too slow a reader, or a
// server fault. Being replaced, removed, refused, a room limit, the
// meeting's or the server's end, or a protocol error are final.
func resumableE2EE(code uint16) bool {
	switch code {
	case 0, dsproto.CodeNotAllowed, dsproto.CodeSlow, dsproto.CodeInternal:
		return true
	}
	return false
}

// reconnect is called by readLoop when the /e2ee WebSocket ended with
// cause. Unless that end is final (see resumableE2EE; also a refusal from
// the lobby, a removal, or Close), it redials with backoff and restarts
// the session's Hello on the new connection: a member resumes, a joiner
// asks again. It returns nil once reconnected, else why the connection is
// over (wrapping ErrE2EEClosed).
func (e *E2EE) reconnect(ctx context.Context, cause error) error {
	end := fmt.Errorf("%w: %w", ErrE2EEClosed, cause)
	e.mu.Lock()
	final := ctx.Err() != nil || e.err != nil || e.removed || !resumableE2EE(e.lastCode)
	e.mu.Unlock()
	attempts := e.cfg.ReconnectAttempts
	if attempts == 0 {
		attempts = defaultE2EEReconnectAttempts
	}
	if final || attempts < 0 {
		return end
	}
	delay := resumeFirstBackoff
	for attempt := 1; attempt <= attempts; attempt++ {
		dctx, cancel := context.WithTimeout(ctx, resumeDialWait)
		err := e.link.redial(dctx)
		cancel()
		if err == nil {
			e.mu.Lock()
			e.lastCode = 0
			e.reconnects++
			out := e.s.Start(time.Now())
			e.mu.Unlock()
			e.log.Info("bot: e2ee reconnected", "attempt", attempt)
			// A write that fails here closes the new WebSocket, and the
			// reader comes back to this function.
			_ = e.apply(out)
			return nil
		}
		e.log.Info("bot: e2ee reconnect failed", "attempt", attempt, "err", err)
		if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrE2EEClosed) || ctx.Err() != nil {
			return fmt.Errorf("%w: reconnect: %w", end, err)
		}
		select {
		case <-ctx.Done():
			return end
		case <-time.After(delay):
		}
		delay *= 2
	}
	return fmt.Errorf("%w: %d reconnect attempts failed", end, attempts)
}

// Reconnects returns how many times the /e2ee WebSocket was reopened.
func (e *E2EE) Reconnects() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reconnects
}
