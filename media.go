package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"conclave/internal/version"
	"conclave/sfu"
	"conclave/signaling"
	"conclave/signaling/cluster"
	"conclave/signaling/ds"
	"conclave/signaling/rtc"
	"conclave/signaling/token"
)

// newMediaPlane builds the SFU engine (ICE mux, TURN) and the /rtc handler
// for cfg. It is the only place the signaling and forwarding planes meet.
func newMediaPlane(cfg signaling.Config, verify *token.Verifier, issue *token.Issuer, busy func(), log *slog.Logger) (signaling.RTCHandler, signaling.MediaInfo, error) {
	sc := sfu.DefaultConfig()
	sc.UDPPort = cfg.Media.UDPPort
	sc.TCPPort = cfg.Media.TCPPort
	sc.NAT1To1IPs = cfg.Media.PublicIPs
	host, _, _ := net.SplitHostPort(cfg.Listen)
	// A server listening on loopback is used from this machine: announce
	// loopback candidates so that local browsers and bots can reach it.
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		sc.IncludeLoopback = true
		sc.ListenIP = host
		sc.TURN.RelayIP = host
	}
	sc.TURN.Enabled = cfg.TURN.Enabled
	sc.TURN.Port = cfg.TURN.UDPPort
	engine, err := sfu.NewEngine(sc, log)
	if err != nil {
		return nil, signaling.MediaInfo{}, err
	}
	// The E2EE delivery service (/e2ee) is the media gate: the SFU forwards
	// nothing to or from a participant before it joined the MLS group.
	dsKey, err := ds.LoadOrCreateKey(cfg.Data)
	if err != nil {
		_ = engine.Close()
		return nil, signaling.MediaInfo{}, err
	}
	var h *rtc.Handler
	dsrv, err := ds.New(ds.Config{
		OnAdmission: func(room, identity string) { h.Readmit(room, identity) },
		// As /rtc: a client that reconnects /e2ee after its first token
		// expired holds a fresh one.
		RefreshInterval: cfg.Join.TokenTTL / 2,
		Refresh:         func(c token.Claims) (string, error) { return issue.Issue(c, cfg.Join.TokenTTL) },
	}, dsKey,
		func(tok string) (*token.Claims, error) { return verify.Verify(tok, time.Now()) }, log)
	if err != nil {
		_ = engine.Close()
		return nil, signaling.MediaInfo{}, err
	}
	h = rtc.NewHandler(rtc.Config{
		Gate:          dsrv,
		Busy:          busy,
		ServerVersion: version.String(),
		// Half the token lifetime: a client always holds a token that a
		// resume will accept.
		RefreshInterval: cfg.Join.TokenTTL / 2,
		Refresh:         func(c token.Claims) (string, error) { return issue.Issue(c, cfg.Join.TokenTTL) },
	}, func(tok string) (*token.Claims, error) {
		return verify.Verify(tok, time.Now())
	}, engine, log)
	info := signaling.MediaInfo{UDPPort: engine.UDPPort(), TCPPort: engine.TCPPort(), TURNPort: engine.TURNPort()}
	return &mediaPlane{Handler: h, engine: engine, ds: dsrv}, info, nil
}

// mediaPlane closes the engine after the handlers have told everyone.
type mediaPlane struct {
	*rtc.Handler
	engine *sfu.Engine
	ds     *ds.Server
}

var _ cluster.Local = (*mediaPlane)(nil)

// Rooms lists the running rooms for the node's load and for the admin API.
func (m *mediaPlane) Rooms() []cluster.Room {
	rooms := m.Handler.Rooms()
	out := make([]cluster.Room, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, cluster.Room{Key: cluster.RoomKey(r.Key), Participants: r.Participants, StartedAt: r.Started})
	}
	return out
}

// EndRoom ends a meeting: its /e2ee and /rtc connections are closed.
func (m *mediaPlane) EndRoom(_ context.Context, room cluster.RoomKey) error {
	dsErr := m.ds.EndRoom(string(room))
	if err := m.Handler.EndRoom(string(room)); err != nil {
		if dsErr == nil {
			return nil // members were only on /e2ee
		}
		return fmt.Errorf("%w: %w", cluster.ErrNoSuchRoom, err)
	}
	return nil
}

// RemoveParticipant disconnects a participant's media.
func (m *mediaPlane) RemoveParticipant(_ context.Context, room cluster.RoomKey, identity string) error {
	switch err := m.Handler.RemoveParticipant(string(room), identity); {
	case errors.Is(err, rtc.ErrNoSuchRoom):
		return fmt.Errorf("%w: %w", cluster.ErrNoSuchRoom, err)
	case errors.Is(err, rtc.ErrNoSuchParticipant):
		return fmt.Errorf("%w: %w", cluster.ErrNoSuchParticipant, err)
	default:
		return err
	}
}

// E2EE is the /e2ee delivery service, which signaling.NewServer mounts.
func (m *mediaPlane) E2EE() http.Handler { return m.ds }

var _ cluster.Remover = (*mediaPlane)(nil)

// RemoveMember implements cluster.Remover: the delivery service proposes
// the member's removal (its DS-signed external Remove) and closes its /e2ee
// connection. A participant that never joined the group has no membership
// to remove; the caller then disconnects it from the media room.
func (m *mediaPlane) RemoveMember(_ context.Context, room cluster.RoomKey, identity string) error {
	if err := m.ds.Remove(string(room), identity); err != nil && !errors.Is(err, ds.ErrNoMember) {
		return err
	}
	return nil
}

func (m *mediaPlane) Shutdown(ctx context.Context) error {
	err := m.ds.Shutdown(ctx)
	if rerr := m.Handler.Shutdown(ctx); rerr != nil && err == nil {
		err = rerr
	}
	if cerr := m.engine.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close sfu: %w", cerr)
	}
	return err
}
