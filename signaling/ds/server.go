package ds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"conclave/e2ee/dsproto"
	"conclave/e2ee/mls"
	"conclave/signaling/token"
)

// Defaults of Config (docs/e2ee-protocol.md, "DS behaviour").
const (
	DefaultLeaveGrace     = 5 * time.Second
	DefaultMaxConns       = 256
	DefaultMaxLogMessages = 1024
	DefaultMaxLogBytes    = 8 << 20
	DefaultSendQueue      = 1024
	DefaultSendQueueBytes = 16 << 20
	DefaultPingInterval   = 15 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	// DefaultRefreshInterval is half the default access token lifetime
	// (signaling.Config.Join.TokenTTL, 10 minutes).
	DefaultRefreshInterval = 5 * time.Minute
)

// Config configures a Server. Zero fields take the defaults.
type Config struct {
	// LeaveGrace is how long a member's connection may be gone before the
	// DS proposes its removal; a Hello within it resumes.
	LeaveGrace time.Duration
	// MaxConns bounds the connections of one room.
	MaxConns int
	// MaxLogMessages and MaxLogBytes bound the handshake log kept for
	// resumption; the oldest messages go first.
	MaxLogMessages, MaxLogBytes int
	// SendQueue and SendQueueBytes bound what waits to be written to one
	// connection; past them it is dropped as too slow.
	SendQueue, SendQueueBytes int
	// PingInterval is how often the DS pings; a connection silent for three
	// intervals is closed. WriteTimeout bounds one write.
	PingInterval, WriteTimeout time.Duration
	// Refresh, when set, mints a fresh access token for a connection's
	// claims (the same issuer and lifetime as /rtc's refresh); the DS sends
	// it (dsproto.RefreshToken) every RefreshInterval, so that a client
	// whose WebSocket drops after its first token expired can reconnect
	// and resume. RefreshInterval defaults to DefaultRefreshInterval; set
	// it to half the token lifetime.
	Refresh         func(c token.Claims) (string, error)
	RefreshInterval time.Duration
	// OnAdmission is called when the participant identity of room becomes
	// a member of the room's group or stops being one (ask Admitted which).
	// It is never called with a lock held, and may call Admitted.
	OnAdmission func(room, identity string)
}

func (c *Config) defaults() {
	if c.LeaveGrace <= 0 {
		c.LeaveGrace = DefaultLeaveGrace
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxLogMessages <= 0 {
		c.MaxLogMessages = DefaultMaxLogMessages
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = DefaultMaxLogBytes
	}
	if c.SendQueue <= 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.SendQueueBytes <= 0 {
		c.SendQueueBytes = DefaultSendQueueBytes
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
}

// Verifier checks an access token (the same tokens as /rtc).
type Verifier func(token string) (*token.Claims, error)

// Errors.
var (
	ErrShutdown = errors.New("ds: server shutting down")
	ErrNoMember = errors.New("ds: no such member")
)

// Server is the delivery service: an http.Handler for GET /e2ee.
type Server struct {
	cfg      Config
	key      *mls.SignatureKey
	verify   Verifier
	log      *slog.Logger
	up       websocket.Upgrader
	observer atomic.Pointer[func(direction string, b []byte)]

	mu       sync.Mutex
	rooms    map[string]*room
	shutdown bool
	conns    sync.WaitGroup
}

// New returns a delivery service signing its Removes with key, which must
// be of CipherSuite.
func New(cfg Config, key *mls.SignatureKey, verify Verifier, log *slog.Logger) (*Server, error) {
	if key == nil || key.CipherSuite() != CipherSuite {
		return nil, errors.New("ds: the key must be an Ed25519 key of cipher suite 0x0001")
	}
	if verify == nil {
		return nil, errors.New("ds: a token verifier is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.defaults()
	return &Server{
		cfg: cfg, key: key, verify: verify, log: log.With("component", "ds"),
		rooms: map[string]*room{},
		up: websocket.Upgrader{
			ReadBufferSize: 16 << 10, WriteBufferSize: 16 << 10,
			// As for /rtc: the access token in the URL is the credential
			// (no cookies), so another origin gains nothing.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}, nil
}

// PublicKey is the DS's signature public key, as clients list it in
// external_senders.
func (s *Server) PublicKey() []byte { return s.key.PublicKey() }

// Observe installs fn to see every WebSocket message the DS reads
// (direction "in") and writes ("out"), for tests that scan all bytes the
// server handles (the tripwire). fn runs on connection goroutines and must
// be safe for concurrent use; nil removes it.
func (s *Server) Observe(fn func(direction string, b []byte)) {
	if fn == nil {
		s.observer.Store(nil)
		return
	}
	s.observer.Store(&fn)
}

func (s *Server) observe(direction string, b []byte) {
	if fn := s.observer.Load(); fn != nil {
		(*fn)(direction, b)
	}
}

// Admitted reports whether identity is a member of room's group: it joined
// (or resumed) and has not been removed. It implements the media gate of
// package signaling/rtc.
func (s *Server) Admitted(room, identity string) bool {
	s.mu.Lock()
	rm := s.rooms[room]
	s.mu.Unlock()
	if rm == nil {
		return false
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.members[identity] != nil
}

// Remove removes identity from room's group with a DS-signed external
// Remove, and closes its connection (an admin's removal, DESIGN.md P7). A
// participant that is connected but not a member (in the lobby, say) loses
// its lobby entry and its connection. ErrNoMember: neither.
func (s *Server) Remove(room, identity string) error {
	return s.removeIdentity(room, identity, "admin", dsproto.CodeRemoved, "removed by an administrator")
}

// Left removes identity from room's group at once because it said goodbye
// (a LeaveRequest on /rtc): without this its leaf, and the keys it holds,
// would stay in the group for LeaveGrace, as for a connection that merely
// dropped. Its /e2ee connection, if still open, is closed without an error.
func (s *Server) Left(room, identity string) {
	_ = s.removeIdentity(room, identity, "left", 0, "")
}

func (s *Server) removeIdentity(room, identity, reason string, code uint16, text string) error {
	s.mu.Lock()
	rm := s.rooms[room]
	s.mu.Unlock()
	if rm == nil {
		return ErrNoMember
	}
	rm.mu.Lock()
	m := rm.members[identity]
	c := rm.byIdentity[identity]
	if m == nil && c == nil {
		rm.mu.Unlock()
		return ErrNoMember
	}
	if m != nil {
		if m.conn != nil {
			c = m.conn
		}
		rm.removeMemberLocked(m, reason)
	}
	if c != nil {
		rm.detachLocked(c)
	}
	rm.groupLivenessLocked()
	notes := rm.takeNotesLocked()
	rm.mu.Unlock()
	if c != nil {
		c.close(code, text)
	}
	s.notify(rm.key, notes)
	s.dropIfEmpty(rm)
	return nil
}

// RoomInfo is what Rooms reports of a room: no content, no identities.
type RoomInfo struct {
	Key     string
	Conns   int
	Members int
	Pending int
	Epoch   uint64
}

// Rooms lists the rooms with state.
func (s *Server) Rooms() []RoomInfo {
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	out := make([]RoomInfo, 0, len(rooms))
	for _, r := range rooms {
		r.mu.Lock()
		out = append(out, RoomInfo{Key: r.key, Conns: len(r.conns), Members: len(r.members), Pending: len(r.pending), Epoch: r.epoch})
		r.mu.Unlock()
	}
	return out
}

// ServeHTTP serves GET /e2ee?access_token=TOKEN: a WebSocket of binary
// dsproto messages, for the room and identity the token names.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "expected a WebSocket upgrade", http.StatusBadRequest)
		return
	}
	tok := token.FromRequest(r)
	if tok == "" {
		http.Error(w, "missing access token", http.StatusUnauthorized)
		return
	}
	claims, err := s.verify(tok)
	if err != nil || claims == nil || claims.Room == "" || claims.Identity == "" || len(claims.Identity) > dsproto.MaxParticipant {
		http.Error(w, "invalid access token", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	s.conns.Add(1)
	s.mu.Unlock()
	defer s.conns.Done()

	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	// One byte over the bound so that an oversized message is seen as such.
	ws.SetReadLimit(dsproto.MaxMessageSize + 1)
	log := s.log.With("room", roomLogID(claims.Room), "participant", claims.Identity)
	c := newConn(s, ws, claims.Identity, log)
	go c.writeLoop()
	defer func() {
		c.close(0, "")
		<-c.done
	}()
	rm, err := s.attach(claims.Room, c)
	if err != nil {
		code := uint16(dsproto.CodeLimit)
		if errors.Is(err, ErrShutdown) {
			code = dsproto.CodeShutdown
		}
		c.close(code, err.Error())
		return
	}
	stopRefresh := s.refreshTokens(c, *claims)
	s.readLoop(c, rm)
	stopRefresh()
	rm.detach(c)
	s.dropIfEmpty(rm)
}

// refreshTokens sends c a fresh token for claims every RefreshInterval
// until the returned stop function is called (docs/e2ee-protocol.md, "Token
// refresh"). The goroutine it starts is owned by the connection's handler,
// which calls stop before it returns. Tokens are never logged.
func (s *Server) refreshTokens(c *conn, claims token.Claims) (stop func()) {
	if s.cfg.Refresh == nil {
		return func() {}
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.RefreshInterval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-c.done:
				return
			case <-t.C:
				tok, err := s.cfg.Refresh(claims)
				if err != nil {
					c.log.Error("ds: refresh token", "err", err)
					continue
				}
				if !c.send(&dsproto.RefreshToken{Token: []byte(tok)}) {
					return // closing, or dropped as too slow
				}
			}
		}
	}()
	return func() { close(quit); <-done }
}

// readLoop reads and handles messages until the connection ends or sends
// something that is not a valid client message.
func (s *Server) readLoop(c *conn, rm *room) {
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(3 * s.cfg.PingInterval))
	})
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(3 * s.cfg.PingInterval))
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.close(dsproto.CodeTooLarge, fmt.Sprintf("message over %d bytes", dsproto.MaxMessageSize))
			}
			return
		}
		s.observe("in", data)
		if kind != websocket.BinaryMessage {
			c.close(dsproto.CodeMalformed, "text message; the protocol is binary")
			return
		}
		m, err := dsproto.Unmarshal(data)
		if err != nil {
			c.log.Info("ds: bad message", "err", err, "size", len(data))
			c.close(errorCode(err), "invalid message")
			return
		}
		if !m.Type().FromClient() {
			c.close(dsproto.CodeUnknown, "a server message type from a client")
			return
		}
		if !s.handle(c, rm, m) {
			return
		}
	}
}

func errorCode(err error) uint16 {
	switch {
	case errors.Is(err, dsproto.ErrTooLarge):
		return dsproto.CodeTooLarge
	case errors.Is(err, dsproto.ErrVersion):
		return dsproto.CodeVersion
	case errors.Is(err, dsproto.ErrUnknownType):
		return dsproto.CodeUnknown
	}
	return dsproto.CodeMalformed
}

// handle runs one message, turning a panic into that connection's end
// rather than the server's.
func (s *Server) handle(c *conn, rm *room, m dsproto.Message) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("ds: panic handling a message", "type", m.Type().String(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			c.close(dsproto.CodeInternal, "internal error")
			ok = false
		}
	}()
	rm.handle(c, m)
	return true
}

// attach adds c to the room for key, creating the room state if needed.
func (s *Server) attach(key string, c *conn) (*room, error) {
	for {
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			return nil, ErrShutdown
		}
		rm := s.rooms[key]
		if rm == nil {
			rm = newRoom(s, key)
			s.rooms[key] = rm
		}
		s.mu.Unlock()
		err := rm.attach(c)
		if errors.Is(err, errRoomGone) {
			continue // deleted in between: make a new one
		}
		if err != nil {
			s.dropIfEmpty(rm)
			return nil, err
		}
		return rm, nil
	}
}

// dropIfEmpty deletes rm's state if nothing is left in it.
func (s *Server) dropIfEmpty(rm *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.gone || len(rm.conns) > 0 || len(rm.members) > 0 {
		return
	}
	rm.gone = true
	rm.clearLocked()
	if s.rooms[rm.key] == rm {
		delete(s.rooms, rm.key)
	}
	rm.log.Info("ds: room state deleted")
}

// notify tells the media plane about admission changes.
func (s *Server) notify(room string, identities []string) {
	if s.cfg.OnAdmission == nil {
		return
	}
	for _, id := range identities {
		s.cfg.OnAdmission(room, id)
	}
}

// Shutdown closes every connection (Error{shutdown}) and forgets every
// room, then waits for the connections to end or ctx to expire.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.rooms = map[string]*room{}
	s.mu.Unlock()
	for _, r := range rooms {
		r.end(dsproto.CodeShutdown, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ds: shutdown: %w", ctx.Err())
	}
}

// EndRoom closes every connection of room (Error{ended}) and forgets its
// state: an admin ended the meeting. ErrNoMember if the room has no state.
func (s *Server) EndRoom(room string) error {
	s.mu.Lock()
	r := s.rooms[room]
	delete(s.rooms, room)
	s.mu.Unlock()
	if r == nil {
		return ErrNoMember
	}
	r.end(dsproto.CodeEnded, "the meeting was ended by an administrator")
	return nil
}

// end forgets r's state and closes its connections with code.
func (r *room) end(code uint16, text string) {
	r.mu.Lock()
	conns := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.gone = true
	r.clearLocked()
	r.mu.Unlock()
	for _, c := range conns {
		c.close(code, text)
	}
}

// roomLogID is what logs say for a room: the same short hash of its key as
// package rtc's logs, so the two can be correlated.
func roomLogID(key string) string {
	sum := sha256.Sum256([]byte("conclave log " + key))
	return hex.EncodeToString(sum[:4])
}
