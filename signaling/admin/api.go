package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"conclave/signaling/audit"
	"conclave/signaling/cluster"
	"conclave/signaling/ratelimit"
)

// Powers are the availability powers the admin API exercises over the whole
// cluster; *cluster.Controller implements them. None of them adds anyone to
// a meeting or reads anything of one.
type Powers interface {
	Meetings(ctx context.Context) ([]cluster.Meeting, []cluster.NodeID, error)
	EndMeeting(ctx context.Context, room cluster.RoomKey) (cluster.NodeID, error)
	RemoveParticipant(ctx context.Context, room cluster.RoomKey, identity string) (cluster.NodeID, error)
	Nodes(ctx context.Context) ([]cluster.Node, error)
	Drain(ctx context.Context, id cluster.NodeID, draining bool) error
}

var _ Powers = (*cluster.Controller)(nil)

// Options are a Server's parts. Credentials, Audit and Powers are required.
type Options struct {
	Credentials *Credentials
	Audit       *audit.Log
	Powers      Powers
	Logger      *slog.Logger
	// Metrics is served at /metrics without authentication (it carries no
	// names or room keys); nil answers 404.
	Metrics http.Handler
	// Ready reports whether this node takes new meetings (for /readyz).
	Ready func(ctx context.Context) error
	// SessionTTL is how long a password+TOTP login lasts (default 15m).
	SessionTTL time.Duration
	Now        func() time.Time
}

// Server is the admin HTTP API. It is served on its own listener, never on
// the public one.
type Server struct {
	creds   *Credentials
	audit   *audit.Log
	powers  Powers
	log     *slog.Logger
	metrics http.Handler
	ready   func(ctx context.Context) error
	ttl     time.Duration
	now     func() time.Time

	// Login attempts per source address and per admin name; failed
	// authentications per source.
	loginBySource, loginByName, failBySource *ratelimit.Limiter

	mu       sync.Mutex
	sessions map[[32]byte]session
}

type session struct {
	name    string
	expires time.Time
}

// maxSessions bounds the session table.
const maxSessions = 1000

// NewServer assembles a Server.
func NewServer(o Options) (*Server, error) {
	if o.Credentials == nil || o.Audit == nil || o.Powers == nil {
		return nil, errors.New("admin: credentials, audit log and powers are required")
	}
	s := &Server{
		creds: o.Credentials, audit: o.Audit, powers: o.Powers, log: o.Logger, metrics: o.Metrics,
		ready: o.Ready, ttl: o.SessionTTL, now: o.Now, sessions: make(map[[32]byte]session),
		loginBySource: ratelimit.New(5, 30*time.Second, 10_000),
		loginByName:   ratelimit.New(5, time.Minute, 10_000),
		failBySource:  ratelimit.New(20, 10*time.Second, 10_000),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.ttl <= 0 {
		s.ttl = 15 * time.Minute
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ready == nil {
		s.ready = func(context.Context) error { return nil }
	}
	return s, nil
}

// Handler returns the admin routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics)
	}
	mux.HandleFunc("POST /admin/v1/login", s.handleLogin)
	mux.HandleFunc("POST /admin/v1/logout", s.handleLogout)
	mux.Handle("GET /admin/v1/meetings", s.authed(ScopeRead, "meetings.list", false, s.listMeetings))
	mux.Handle("POST /admin/v1/meetings/{room}/end", s.authed(ScopeMeetings, "meeting.end", true, s.endMeeting))
	mux.Handle("POST /admin/v1/meetings/{room}/participants/{identity}/remove", s.authed(ScopeMeetings, "participant.remove", true, s.removeParticipant))
	mux.Handle("GET /admin/v1/nodes", s.authed(ScopeRead, "nodes.list", false, s.listNodes))
	mux.Handle("POST /admin/v1/nodes/{node}/drain", s.authed(ScopeNodes, "node.drain", true, s.drain(true)))
	mux.Handle("POST /admin/v1/nodes/{node}/undrain", s.authed(ScopeNodes, "node.undrain", true, s.drain(false)))
	mux.Handle("GET /admin/v1/keys", s.authed(ScopeKeys, "keys.list", false, s.listKeys))
	mux.Handle("POST /admin/v1/keys", s.authed(ScopeKeys, "key.create", true, s.createKey))
	mux.Handle("POST /admin/v1/keys/{id}/revoke", s.authed(ScopeKeys, "key.revoke", true, s.revokeKey))
	mux.Handle("GET /admin/v1/audit", s.authed(ScopeAudit, "audit.list", false, s.listAudit))
	mux.Handle("GET /admin/v1/audit/verify", s.authed(ScopeAudit, "audit.verify", false, s.verifyAudit))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		mux.ServeHTTP(w, r)
	})
}

// principal is who is acting: an API key or a logged-in admin.
type principal struct {
	actor  string
	scopes []Scope
}

func (p principal) has(s Scope) bool {
	for _, x := range p.scopes {
		if x == s {
			return true
		}
	}
	return false
}

// call is one authenticated request: the handler reports the target it acted
// on and its outcome, and authed writes both to the audit log.
type call struct {
	w   http.ResponseWriter
	r   *http.Request
	who principal
}

type handlerFunc func(c call) (target string, status int, body any, err error)

// authed wraps h with authentication, the scope check and auditing. When
// writeAhead is set (actions that change something), the attempt is written
// to the audit log before h runs, and h does not run if it cannot be: no
// action goes unrecorded.
func (s *Server) authed(scope Scope, action string, writeAhead bool, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src := source(r)
		who, err := s.authenticate(r)
		if err != nil {
			if !s.failBySource.Allow(rateKey(r), s.now()) {
				writeError(w, http.StatusTooManyRequests, "too many failed attempts; wait a minute")
				return
			}
			s.record(r.Context(), audit.Record{Actor: "unauthenticated", Action: action, Source: src, Result: "unauthorized"})
			writeError(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		if !who.has(scope) {
			s.record(r.Context(), audit.Record{Actor: who.actor, Action: action, Source: src, Result: "forbidden: needs scope " + string(scope)})
			writeError(w, http.StatusForbidden, "this credential lacks the "+string(scope)+" scope")
			return
		}
		if writeAhead {
			if _, err := s.audit.Append(r.Context(), audit.Record{Actor: who.actor, Action: action, Target: pathTarget(r), Source: src, Result: "started"}); err != nil {
				s.log.Error("audit log unavailable; refusing admin action", "action", action, "err", err)
				writeError(w, http.StatusServiceUnavailable, "the audit log is unavailable, so no action is taken")
				return
			}
		}
		target, status, body, herr := h(call{w: w, r: r, who: who})
		result := "ok"
		if herr != nil {
			result = "error: " + herr.Error()
			if len(result) > 200 {
				result = result[:200]
			}
		}
		s.record(r.Context(), audit.Record{Actor: who.actor, Action: action, Target: target, Source: src, Result: result})
		if herr != nil {
			writeError(w, status, herr.Error())
			return
		}
		writeJSON(w, status, body)
	})
}

func (s *Server) record(ctx context.Context, rec audit.Record) {
	if _, err := s.audit.Append(ctx, rec); err != nil {
		s.log.Error("audit append", "action", rec.Action, "err", err)
	}
}

// pathTarget is the object named by the request path, for the write-ahead
// entry (the handler reports the validated one afterwards).
func pathTarget(r *http.Request) string {
	for _, k := range []string{"room", "node", "id"} {
		if v := r.PathValue(k); v != "" {
			return clip(v)
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80]
	}
	return s
}

const sessionPrefix = "cs_"

func (s *Server) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return principal{}, ErrUnauthorized
	}
	if strings.HasPrefix(tok, sessionPrefix) {
		sum := sha256.Sum256([]byte(tok))
		s.mu.Lock()
		sess, ok := s.sessions[sum]
		if ok && !s.now().Before(sess.expires) {
			delete(s.sessions, sum)
			ok = false
		}
		s.mu.Unlock()
		if !ok {
			return principal{}, ErrUnauthorized
		}
		return principal{actor: "admin:" + sess.name, scopes: AllScopes}, nil
	}
	k, err := s.creds.AuthenticateKey(r.Context(), tok)
	if err != nil {
		return principal{}, err
	}
	return principal{actor: "key:" + k.ID, scopes: k.Scopes}, nil
}

type loginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Code     string `json:"code"`
}

type loginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleLogin checks a password and a TOTP code. Attempts are limited per
// source address and per admin name before anything is checked, so that
// neither the password nor the 6-digit code can be guessed at speed.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	src := source(r)
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name := clip(req.Name)
	now := s.now()
	// Both buckets are charged, so that neither a single source nor many
	// sources aiming at one name get more than their share.
	bySource := s.loginBySource.Allow(rateKey(r), now)
	byName := s.loginByName.Allow("name:"+name, now)
	if !bySource || !byName {
		s.record(r.Context(), audit.Record{Actor: "admin:" + name, Action: "login", Source: src, Result: "rate limited"})
		writeError(w, http.StatusTooManyRequests, "too many login attempts; wait a minute")
		return
	}
	if err := s.creds.Login(r.Context(), req.Name, req.Password, req.Code); err != nil {
		s.record(r.Context(), audit.Record{Actor: "admin:" + name, Action: "login", Source: src, Result: "refused"})
		if errors.Is(err, ErrUnauthorized) {
			writeError(w, http.StatusUnauthorized, "wrong name, password or code")
			return
		}
		s.log.Error("login", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	tok := sessionPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	exp := now.Add(s.ttl)
	s.mu.Lock()
	for k, v := range s.sessions {
		if !now.Before(v.expires) {
			delete(s.sessions, k)
		}
	}
	full := len(s.sessions) >= maxSessions
	if !full {
		s.sessions[sha256.Sum256([]byte(tok))] = session{name: req.Name, expires: exp}
	}
	s.mu.Unlock()
	if full {
		writeError(w, http.StatusServiceUnavailable, "too many admin sessions")
		return
	}
	s.record(r.Context(), audit.Record{Actor: "admin:" + name, Action: "login", Source: src, Result: "ok"})
	writeJSON(w, http.StatusOK, loginResponse{Token: tok, ExpiresAt: exp.UTC()})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	sum := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	sess, ok := s.sessions[sum]
	delete(s.sessions, sum)
	s.mu.Unlock()
	if ok {
		s.record(r.Context(), audit.Record{Actor: "admin:" + sess.name, Action: "logout", Source: source(r), Result: "ok"})
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// meetingView is one meeting in the admin listing: counts and durations only.
type meetingView struct {
	Room            cluster.RoomKey `json:"room"`
	Node            cluster.NodeID  `json:"node"`
	Participants    int             `json:"participants"`
	StartedAt       time.Time       `json:"started_at"`
	DurationSeconds int64           `json:"duration_seconds"`
}

type meetingsResponse struct {
	Meetings   []meetingView    `json:"meetings"`
	Unanswered []cluster.NodeID `json:"unanswered_nodes,omitempty"`
}

func (s *Server) listMeetings(c call) (string, int, any, error) {
	ms, silent, err := s.powers.Meetings(c.r.Context())
	if err != nil {
		return "", http.StatusBadGateway, nil, errors.New("could not list meetings")
	}
	out := meetingsResponse{Meetings: []meetingView{}, Unanswered: silent}
	now := s.now()
	for _, m := range ms {
		out.Meetings = append(out.Meetings, meetingView{
			Room: m.Room, Node: m.Node, Participants: m.Participants, StartedAt: m.StartedAt,
			DurationSeconds: int64(now.Sub(m.StartedAt) / time.Second),
		})
	}
	return fmt.Sprintf("%d meetings", len(out.Meetings)), http.StatusOK, out, nil
}

var (
	roomRE     = regexp.MustCompile(`^[0-9a-f]{32}$`)
	identityRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	nodeRE     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// powerError maps the cluster's errors to what the admin sees.
func powerError(err error) (int, error) {
	switch {
	case errors.Is(err, cluster.ErrNoSuchRoom):
		return http.StatusNotFound, errors.New("no such meeting running")
	case errors.Is(err, cluster.ErrNoSuchParticipant):
		return http.StatusNotFound, errors.New("no such participant in that meeting")
	case errors.Is(err, cluster.ErrUnknownNode):
		return http.StatusNotFound, errors.New("no such node")
	case errors.Is(err, cluster.ErrNodeUnavailable):
		return http.StatusBadGateway, errors.New("the meeting's node did not answer")
	}
	return http.StatusInternalServerError, errors.New("failed")
}

func (s *Server) endMeeting(c call) (string, int, any, error) {
	room := c.r.PathValue("room")
	if !roomRE.MatchString(room) {
		return clip(room), http.StatusBadRequest, nil, errors.New("room must be a room key (32 hex digits)")
	}
	node, err := s.powers.EndMeeting(c.r.Context(), cluster.RoomKey(room))
	if err != nil {
		st, e := powerError(err)
		return room, st, nil, e
	}
	return room, http.StatusOK, map[string]string{"status": "ended", "node": string(node)}, nil
}

func (s *Server) removeParticipant(c call) (string, int, any, error) {
	room, id := c.r.PathValue("room"), c.r.PathValue("identity")
	target := clip(room) + "/" + clip(id)
	if !roomRE.MatchString(room) || !identityRE.MatchString(id) {
		return target, http.StatusBadRequest, nil, errors.New("want a room key (32 hex digits) and a participant identity")
	}
	node, err := s.powers.RemoveParticipant(c.r.Context(), cluster.RoomKey(room), id)
	if err != nil {
		st, e := powerError(err)
		return target, st, nil, e
	}
	return target, http.StatusOK, map[string]string{"status": "removed", "node": string(node)}, nil
}

func (s *Server) listNodes(c call) (string, int, any, error) {
	ns, err := s.powers.Nodes(c.r.Context())
	if err != nil {
		return "", http.StatusBadGateway, nil, errors.New("could not list nodes")
	}
	if ns == nil {
		ns = []cluster.Node{}
	}
	return fmt.Sprintf("%d nodes", len(ns)), http.StatusOK, map[string]any{"nodes": ns}, nil
}

func (s *Server) drain(draining bool) handlerFunc {
	return func(c call) (string, int, any, error) {
		id := c.r.PathValue("node")
		if !nodeRE.MatchString(id) {
			return clip(id), http.StatusBadRequest, nil, errors.New("malformed node id")
		}
		if err := s.powers.Drain(c.r.Context(), cluster.NodeID(id), draining); err != nil {
			st, e := powerError(err)
			return id, st, nil, e
		}
		return id, http.StatusOK, map[string]any{"node": id, "draining": draining}, nil
	}
}

type keyView struct {
	ID        string    `json:"id"`
	Scopes    []Scope   `json:"scopes"`
	Label     string    `json:"label"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Revoked   bool      `json:"revoked"`
	Key       string    `json:"key,omitempty"` // only when created
}

func viewKey(k Key) keyView {
	return keyView{ID: k.ID, Scopes: k.Scopes, Label: k.Label, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, Revoked: k.Revoked, Key: k.Secret}
}

func (s *Server) listKeys(c call) (string, int, any, error) {
	ks, err := s.creds.Keys(c.r.Context())
	if err != nil {
		return "", http.StatusInternalServerError, nil, errors.New("could not list keys")
	}
	out := []keyView{}
	for _, k := range ks {
		out = append(out, viewKey(k))
	}
	return "", http.StatusOK, map[string]any{"keys": out}, nil
}

type createKeyRequest struct {
	Label  string `json:"label"`
	Scopes string `json:"scopes"`
	TTL    string `json:"ttl"`
}

func (s *Server) createKey(c call) (string, int, any, error) {
	var req createKeyRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return "", http.StatusBadRequest, nil, err
	}
	scopes, err := ParseScopes(req.Scopes)
	if err != nil {
		return "", http.StatusBadRequest, nil, err
	}
	// No escalation: a key hands out only scopes its holder has.
	for _, sc := range scopes {
		if !c.who.has(sc) {
			return "", http.StatusForbidden, nil, fmt.Errorf("cannot grant the %s scope, which this credential lacks", sc)
		}
	}
	ttl, err := time.ParseDuration(req.TTL)
	if err != nil {
		return "", http.StatusBadRequest, nil, errors.New("ttl must be a duration such as 720h")
	}
	k, err := s.creds.CreateKey(c.r.Context(), req.Label, scopes, ttl)
	if err != nil {
		return "", http.StatusBadRequest, nil, err
	}
	return k.ID, http.StatusCreated, viewKey(k), nil
}

func (s *Server) revokeKey(c call) (string, int, any, error) {
	id := c.r.PathValue("id")
	if !idRE.MatchString(id) {
		return clip(id), http.StatusBadRequest, nil, errors.New("malformed key id")
	}
	if err := s.creds.RevokeKey(c.r.Context(), id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return id, http.StatusNotFound, nil, errors.New("no such key, or already revoked")
		}
		return id, http.StatusInternalServerError, nil, errors.New("could not revoke")
	}
	return id, http.StatusOK, map[string]string{"status": "revoked"}, nil
}

type entryView struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Source string    `json:"source"`
	Result string    `json:"result"`
	Hash   string    `json:"hash"`
}

func (s *Server) listAudit(c call) (string, int, any, error) {
	after, _ := strconv.ParseInt(c.r.URL.Query().Get("after"), 10, 64)
	limit, _ := strconv.Atoi(c.r.URL.Query().Get("limit"))
	es, err := s.audit.List(c.r.Context(), after, limit)
	if err != nil {
		return "", http.StatusInternalServerError, nil, errors.New("could not read the audit log")
	}
	out := []entryView{}
	for _, e := range es {
		out = append(out, entryView{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, Source: e.Source, Result: e.Result, Hash: e.Hash.String()})
	}
	return "", http.StatusOK, map[string]any{"entries": out}, nil
}

func (s *Server) verifyAudit(c call) (string, int, any, error) {
	rep, err := s.audit.Verify(c.r.Context())
	if err != nil {
		if errors.Is(err, audit.ErrTampered) {
			return "", http.StatusConflict, nil, err
		}
		return "", http.StatusInternalServerError, nil, errors.New("could not read the audit log")
	}
	return "", http.StatusOK, map[string]any{"entries": rep.Entries, "head": rep.Head.String()}, nil
}

// source is the client address of r, for the audit log.
func source(r *http.Request) string {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap().String()
	}
	return clip(r.RemoteAddr)
}

func rateKey(r *http.Request) string {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ratelimit.SourceKey(ap.Addr())
	}
	return r.RemoteAddr
}

// maxBody bounds request bodies.
const maxBody = 4 << 10

func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errors.New("content type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("malformed request body")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
