package rtc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"

	"conclave/sfu"
	"conclave/signaling/token"
)

// ProtocolVersion is the LiveKit signal protocol version served.
const ProtocolVersion = 17

// Config configures the /rtc handler. Zero fields take the defaults.
type Config struct {
	// ServerVersion is reported in JoinResponse.server_info.
	ServerVersion string
	// PingInterval and PingTimeout are sent to clients; a connection silent
	// for PingTimeout is closed.
	PingInterval, PingTimeout time.Duration
	// Refresh, when set, mints a fresh token for a connected participant's
	// claims; it is sent every RefreshInterval (a SignalResponse
	// refresh_token), so that a client that resumes after its first token
	// expired still holds a valid one, as livekit-client expects.
	Refresh         func(c token.Claims) (string, error)
	RefreshInterval time.Duration
	// ReconnectGrace is how long a participant whose WebSocket dropped is
	// kept for a resume (reconnect=1) before it is removed from the room.
	ReconnectGrace time.Duration
	// MaxMessageSize bounds one signal message.
	MaxMessageSize int
	// MaxParticipants bounds one room.
	MaxParticipants int
	// Gate, if set, is the media gate (gate.go): only participants it
	// admits receive or send media. nil admits everyone.
	Gate Gate
	// Busy, if set, is called when a participant's arrival or admission
	// starts a burst of control work (handshakes, every subscriber's
	// renegotiation), so that the scheduler can keep a P free for media
	// meanwhile (internal/procs).
	Busy func()
}

func (c *Config) defaults() {
	if c.ServerVersion == "" {
		c.ServerVersion = "1.0.0-conclave"
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 5 * time.Minute
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 5 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 15 * time.Second
	}
	if c.ReconnectGrace <= 0 {
		c.ReconnectGrace = 20 * time.Second
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 256 << 10
	}
	if c.MaxParticipants <= 0 {
		c.MaxParticipants = 200
	}
	if c.Busy == nil {
		c.Busy = func() {}
	}
}

// Verifier checks an access token.
type Verifier func(token string) (*token.Claims, error)

// Handler serves /rtc, /rtc/validate and answers 404 on /rtc/v1/...
type Handler struct {
	cfg    Config
	verify Verifier
	engine *sfu.Engine
	log    *slog.Logger
	up     websocket.Upgrader

	mu       sync.Mutex
	rooms    map[string]*room
	shutdown bool
	sessions sync.WaitGroup
}

// NewHandler returns the /rtc handler. verify checks tokens; engine carries
// the media.
func NewHandler(cfg Config, verify func(token string) (*token.Claims, error), engine *sfu.Engine, log *slog.Logger) *Handler {
	cfg.defaults()
	return &Handler{
		cfg: cfg, verify: verify, engine: engine, log: log.With("component", "rtc"),
		rooms: map[string]*room{},
		up: websocket.Upgrader{
			ReadBufferSize: 16 << 10, WriteBufferSize: 16 << 10,
			// The access token in the URL is the credential (no cookies), so
			// a cross-origin page gains nothing it does not already hold.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
}

// ServeHTTP routes /rtc (WebSocket), /rtc/validate and /rtc/v1/... (404).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	i := strings.LastIndex(path, "/rtc")
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	switch rest := path[i+len("/rtc"):]; {
	case rest == "":
		h.serveRTC(w, r)
	case rest == "/validate":
		h.serveValidate(w, r)
	default:
		// Includes /rtc/v1 and /rtc/v1/validate: the single-PC path is not
		// served, and a 404 there makes livekit-client use /rtc.
		http.Error(w, "not found", http.StatusNotFound)
	}
}

// claims verifies the request's token and answers the HTTP error itself
// when it is missing or invalid.
func (h *Handler) claims(w http.ResponseWriter, r *http.Request) (*token.Claims, bool) {
	t := token.FromRequest(r)
	if t == "" {
		http.Error(w, "missing access token", http.StatusUnauthorized)
		return nil, false
	}
	c, err := h.verify(t)
	if err != nil || c == nil || c.Room == "" || c.Identity == "" {
		http.Error(w, "invalid access token", http.StatusUnauthorized)
		return nil, false
	}
	return c, true
}

// serveValidate is what livekit-client fetches after a failed WebSocket
// upgrade to learn why.
func (h *Handler) serveValidate(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.claims(w, r); !ok {
		return
	}
	_, _ = w.Write([]byte("success"))
}

func (h *Handler) serveRTC(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "expected a WebSocket upgrade", http.StatusBadRequest)
		return
	}
	c, ok := h.claims(w, r)
	if !ok {
		return
	}
	h.cfg.Busy()
	q := r.URL.Query()
	h.mu.Lock()
	if h.shutdown {
		h.mu.Unlock()
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	h.sessions.Add(1)
	h.mu.Unlock()
	defer h.sessions.Done()

	ws, err := h.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered the error
	}
	ws.SetReadLimit(int64(h.cfg.MaxMessageSize))
	binary := q.Get("format") != "json"
	cn := newConn(ws, binary)
	log := h.log.With("room", roomLogID(c.Room), "participant", c.Identity)
	s := &session{h: h, conn: cn, claims: c, log: log}
	s.run(r.Context(), q.Get("reconnect") == "1", q.Get("sid"), q.Get("auto_subscribe") != "0")
}

// roomLogID is what logs say for a room: a short hash of its key.
func roomLogID(key string) string {
	sum := sha256.Sum256([]byte("conclave log " + key))
	return hex.EncodeToString(sum[:4])
}

// room returns the room for key, creating it if create is set.
func (h *Handler) room(key string, create bool) (*room, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shutdown {
		return nil, errShutdown
	}
	rm, ok := h.rooms[key]
	if !ok && create {
		rm = newRoom(h, key)
		h.rooms[key] = rm
	}
	if rm == nil {
		return nil, errNoRoom
	}
	return rm, nil
}

func (h *Handler) dropRoomIfEmpty(rm *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rooms[rm.key] == rm && rm.empty() {
		delete(h.rooms, rm.key)
		rm.close()
	}
}

var (
	errShutdown = errors.New("rtc: server shutting down")
	errNoRoom   = errors.New("rtc: no such room")
)

// RoomInfo is the admin view of one room.
type RoomInfo struct {
	Key          string
	Participants int
	Started      time.Time
}

// Rooms lists the rooms with participants.
// ErrNoSuchRoom and ErrNoSuchParticipant are returned by EndRoom and
// RemoveParticipant.
var (
	ErrNoSuchRoom        = errors.New("rtc: no such room")
	ErrNoSuchParticipant = errors.New("rtc: no such participant")
)

// EndRoom disconnects everyone in the room (reason ROOM_DELETED): an admin
// ended the meeting.
func (h *Handler) EndRoom(key string) error {
	rm, err := h.room(key, false)
	if err != nil {
		return ErrNoSuchRoom
	}
	for _, p := range rm.others(nil) {
		p.kick(livekit.DisconnectReason_ROOM_DELETED)
		p.leave(livekit.DisconnectReason_ROOM_DELETED)
	}
	h.dropRoomIfEmpty(rm)
	return nil
}

// RemoveParticipant disconnects one participant (reason
// PARTICIPANT_REMOVED). Its MLS removal is the delivery service's job.
func (h *Handler) RemoveParticipant(key, identity string) error {
	rm, err := h.room(key, false)
	if err != nil {
		return ErrNoSuchRoom
	}
	p := rm.get(identity)
	if p == nil {
		return ErrNoSuchParticipant
	}
	p.kick(livekit.DisconnectReason_PARTICIPANT_REMOVED)
	p.leave(livekit.DisconnectReason_PARTICIPANT_REMOVED)
	h.dropRoomIfEmpty(rm)
	return nil
}

func (h *Handler) Rooms() []RoomInfo {
	h.mu.Lock()
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	out := make([]RoomInfo, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, RoomInfo{Key: r.key, Participants: r.count(), Started: r.started})
	}
	return out
}

// Shutdown tells every participant the server is shutting down
// (LeaveRequest, reason SERVER_SHUTDOWN), closes their sessions and waits
// for them to end or ctx to expire.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.shutdown = true
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.rooms = map[string]*room{}
	h.mu.Unlock()
	for _, r := range rooms {
		r.shutdown()
	}
	done := make(chan struct{})
	go func() {
		h.sessions.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rtc: shutdown: %w", ctx.Err())
	}
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789"

// newID returns prefix followed by 12 random characters.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return prefix + string(b[:])
}
