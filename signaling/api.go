package signaling

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"conclave/signaling/cluster"
	"conclave/signaling/metrics"
	"conclave/signaling/ratelimit"
	"conclave/signaling/store"
	"conclave/signaling/token"
)

// maxAPIBody bounds every JSON request body.
const maxAPIBody = 4 << 10

// maxNameRunes bounds display names.
const maxNameRunes = 64

type createMeetingResponse struct {
	Room string `json:"room"`
}

type joinRequest struct {
	Room string `json:"room"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

type joinResponse struct {
	Token    string `json:"token"`
	URL      string `json:"url"`
	Room     string `json:"room"`
	Identity string `json:"identity"`
}

type versionResponse struct {
	Version      string `json:"version"`
	BundleSHA256 string `json:"bundle_sha256"`
}

// errorBody is the only shape errors take; its text is safe to show users.
type errorBody struct {
	Error string `json:"error"`
}

// errNoMeeting is the single answer for a room ID that is unknown, expired or
// malformed: an attacker learns nothing from which it was.
var errNoMeeting = errors.New("no such meeting")

func (s *Server) handleCreateMeeting(w http.ResponseWriter, r *http.Request) {
	if !s.allow(r) {
		s.metrics.JoinAttempt(metrics.JoinRateLimited)
		writeError(w, http.StatusTooManyRequests, "too many attempts; wait a minute")
		return
	}
	id, err := NewRoomID(s.rand)
	if err != nil {
		s.log.Error("create meeting", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	h := id.Hash()
	if err := s.store.CreateMeeting(r.Context(), h, s.now()); err != nil {
		s.log.Error("create meeting", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	s.metrics.MeetingCreated()
	s.log.Info("meeting created", "room", h.Key())
	writeJSON(w, http.StatusCreated, createMeetingResponse{Room: string(id)})
}

func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	// The limit comes before any lookup, so a guesser's attempts are counted
	// whether or not they hit.
	if !s.allow(r) {
		s.metrics.JoinAttempt(metrics.JoinRateLimited)
		writeError(w, http.StatusTooManyRequests, "too many attempts; wait a minute")
		return
	}
	var req joinRequest
	if err := decodeJSON(r, &req); err != nil {
		s.metrics.JoinAttempt(metrics.JoinBadRequest)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name, err := cleanName(req.Name)
	if err != nil {
		s.metrics.JoinAttempt(metrics.JoinBadRequest)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	kind := req.Kind
	switch kind {
	case "":
		kind = "browser"
	case "browser", "bot", "phone":
	default:
		s.metrics.JoinAttempt(metrics.JoinBadRequest)
		writeError(w, http.StatusBadRequest, "kind must be browser, bot or phone")
		return
	}
	// A malformed ID is hashed and looked up like any other, so that it is
	// answered in the same way and about the same time as an unknown one.
	h := RoomID(req.Room).Hash()
	if _, perr := ParseRoomID(req.Room); perr != nil {
		h = RoomID("malformed:" + req.Room).Hash()
	}
	if err := s.store.TouchMeeting(r.Context(), h, s.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.metrics.JoinAttempt(metrics.JoinNotFound)
			writeError(w, http.StatusNotFound, errNoMeeting.Error())
			return
		}
		s.metrics.JoinAttempt(metrics.JoinError)
		s.log.Error("join", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	key := h.Key()
	// The meeting runs on one node; every node answers with that node's URL.
	node, err := s.router.PlaceRoom(r.Context(), cluster.RoomKey(key))
	if err != nil {
		if errors.Is(err, cluster.ErrNoNode) {
			s.metrics.JoinAttempt(metrics.JoinNoCapacity)
			writeError(w, http.StatusServiceUnavailable, "no server can take new meetings now; try again later")
			return
		}
		s.metrics.JoinAttempt(metrics.JoinError)
		s.log.Error("join: place room", "room", key, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	identity, err := newIdentity()
	if err != nil {
		s.log.Error("join", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	meta, _ := json.Marshal(map[string]string{"kind": kind})
	tok, err := s.issuer.Issue(token.Claims{
		Identity:     identity,
		Name:         name,
		Room:         string(key),
		Metadata:     string(meta),
		CanPublish:   true,
		CanSubscribe: true,
	}, s.cfg.Join.TokenTTL)
	if err != nil {
		s.metrics.JoinAttempt(metrics.JoinError)
		s.log.Error("join: issue token", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	s.metrics.JoinAttempt(metrics.JoinOK)
	s.log.Info("join token issued", "room", key, "identity", identity, "kind", kind, "node", node.ID)
	writeJSON(w, http.StatusOK, joinResponse{Token: tok, URL: signalURL(node.URL), Room: string(key), Identity: identity})
}

func (s *Server) handleVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, versionResponse{Version: s.version, BundleSHA256: s.bundleHash})
}

// allow charges one attempt to the request's source address.
func (s *Server) allow(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	key := r.RemoteAddr
	if err == nil {
		key = ratelimit.SourceKey(ap.Addr())
	}
	return s.limiter.Allow(key, s.now())
}

// signalURL is the WebSocket base that livekit-client connects to (it
// appends /rtc) for a node whose base URL is u.
func signalURL(u string) string {
	u = strings.TrimRight(u, "/")
	switch {
	case strings.HasPrefix(u, "https://"):
		return "wss://" + strings.TrimPrefix(u, "https://")
	default:
		return "ws://" + strings.TrimPrefix(u, "http://")
	}
}

var identityEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newIdentity makes a participant identity: random, so that it says nothing
// about who joins.
func newIdentity() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("identity: %w", err)
	}
	return "P_" + identityEncoding.EncodeToString(b[:])[:12], nil
}

// cleanName trims a display name and refuses empty, overlong or control
// characters. Names are shown as text by every client; this only keeps them
// sane.
func cleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("a display name is required")
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxNameRunes {
		return "", fmt.Errorf("display name must be valid text of at most %d characters", maxNameRunes)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return "", errors.New("display name contains control characters")
		}
	}
	return s, nil
}

func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errors.New("content type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("malformed request body")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}
