package rtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"

	"conclave/signaling/token"
)

// session is one WebSocket's lifetime: a join, or a resume of an existing
// participant (reconnect=1).
type session struct {
	h      *Handler
	conn   *conn
	claims *token.Claims
	log    *slog.Logger
}

func (s *session) run(ctx context.Context, reconnect bool, sid string, autoSubscribe bool) {
	defer s.conn.wait()
	var p *participant
	var err error
	if reconnect {
		p, err = s.resume(sid)
	} else {
		p, err = s.join(autoSubscribe)
	}
	if err != nil {
		s.log.Info("rtc: session refused", "err", err, "reconnect", reconnect)
		s.conn.close(websocket.ClosePolicyViolation, err.Error())
		return
	}
	stopRefresh := s.refreshTokens(ctx)
	s.readLoop(p)
	stopRefresh()
	p.detach(s.conn)
}

// refreshTokens sends a fresh access token for the session's claims every
// RefreshInterval until the returned stop function is called.
func (s *session) refreshTokens(ctx context.Context) (stop func()) {
	if s.h.cfg.Refresh == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.h.cfg.RefreshInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				tok, err := s.h.cfg.Refresh(*s.claims)
				if err != nil {
					s.log.Error("rtc: refresh token", "err", err)
					continue
				}
				s.conn.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_RefreshToken{RefreshToken: tok}})
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (s *session) join(autoSubscribe bool) (*participant, error) {
	rm, err := s.h.room(s.claims.Room, true)
	if err != nil {
		return nil, err
	}
	p, err := newParticipant(s.h, rm, s.claims, autoSubscribe, s.log)
	if err != nil {
		s.h.dropRoomIfEmpty(rm)
		return nil, err
	}
	if err := p.start(s.conn); err != nil {
		p.close()
		s.h.dropRoomIfEmpty(rm)
		return nil, err
	}
	return p, nil
}

// resume reattaches a participant whose WebSocket dropped. If it is gone, the
// client is told to rejoin from scratch (LeaveRequest with action
// RECONNECT), which livekit-client does.
func (s *session) resume(sid string) (*participant, error) {
	var p *participant
	if rm, err := s.h.room(s.claims.Room, false); err == nil {
		p = rm.get(s.claims.Identity)
	}
	if p == nil || p.sid != sid {
		s.conn.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Leave{Leave: &livekit.LeaveRequest{
			CanReconnect: true, Reason: livekit.DisconnectReason_STATE_MISMATCH, Action: livekit.LeaveRequest_RECONNECT,
		}}})
		return nil, errors.New("rtc: resume of an unknown participant")
	}
	if err := p.resume(s.conn); err != nil {
		return nil, err
	}
	return p, nil
}

func (s *session) readLoop(p *participant) {
	ws := s.conn.ws
	for {
		_ = ws.SetReadDeadline(time.Now().Add(s.h.cfg.PingTimeout))
		kind, data, err := ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.conn.close(websocket.CloseMessageTooBig, "signal message too large")
			}
			return
		}
		if kind != websocket.BinaryMessage && kind != websocket.TextMessage {
			continue
		}
		req, err := DecodeRequest(kind == websocket.BinaryMessage, data, s.h.cfg.MaxMessageSize)
		if errors.Is(err, ErrUnknownMessage) {
			p.respondError(0, livekit.RequestResponse_UNSUPPORTED_TYPE, "conclave: unknown signal request type")
			continue
		}
		if err != nil {
			s.log.Info("rtc: bad signal message", "err", err, "size", len(data))
			s.conn.close(websocket.CloseInvalidFramePayloadData, "malformed signal message")
			return
		}
		if stop := s.handle(p, req); stop {
			return
		}
	}
}

// handle runs one request, turning a panic into a closed connection rather
// than a dead server or room.
func (s *session) handle(p *participant, req *livekit.SignalRequest) (stop bool) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("rtc: panic handling signal request", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			s.conn.close(websocket.CloseInternalServerErr, "internal error")
			stop = true
		}
	}()
	return p.handle(s.conn, req)
}
