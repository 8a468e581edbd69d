package signaling

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"conclave/signaling/cluster"
	"conclave/signaling/metrics"
	"conclave/signaling/ratelimit"
	"conclave/signaling/store"
	"conclave/signaling/token"
)

// RTCHandler serves /rtc (the LiveKit signal protocol) and can tell every
// participant the server is going away.
type RTCHandler interface {
	http.Handler
	Shutdown(ctx context.Context) error
}

// Options are a Server's parts. Store and Issuer are required.
type Options struct {
	Config     Config
	Logger     *slog.Logger
	Store      store.Store
	Issuer     *token.Issuer
	RTC        RTCHandler // nil: /rtc answers 503
	Web        fs.FS      // the built web app; nil: pages answer 503
	BundleHash string     // SHA-256 of the web bundle, hex
	Version    string
	Rand       io.Reader        // default crypto/rand.Reader
	Now        func() time.Time // default time.Now
	// Router places meetings on nodes; nil: this node alone (cluster.LocalRouter).
	Router cluster.Router
	// Metrics counts joins and meetings; nil counts nothing.
	Metrics *metrics.Metrics
	// Ready reports whether the node can serve (for /readyz); nil: always.
	Ready func(ctx context.Context) error
	// E2EE serves /e2ee, the MLS delivery service (package signaling/ds);
	// nil: taken from RTC if it has an E2EE() http.Handler method, else
	// /e2ee answers 503. Its owner shuts it down.
	E2EE http.Handler
}

// Server is the HTTP side of `conclave serve`.
type Server struct {
	cfg        Config
	log        *slog.Logger
	store      store.Store
	issuer     *token.Issuer
	rtc        RTCHandler
	e2ee       http.Handler
	web        fs.FS
	assets     *assets
	bundleHash string
	version    string
	rand       io.Reader
	now        func() time.Time
	limiter    *ratelimit.Limiter
	router     cluster.Router
	metrics    *metrics.Metrics
	ready      func(ctx context.Context) error
}

// maxRateKeys bounds the rate limiter's table.
const maxRateKeys = 100_000

// NewServer assembles a Server from o.
func NewServer(o Options) (*Server, error) {
	if o.Store == nil || o.Issuer == nil {
		return nil, errors.New("signaling: a store and a token issuer are required")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg: o.Config, log: o.Logger, store: o.Store, issuer: o.Issuer, rtc: o.RTC, e2ee: o.E2EE,
		web: o.Web, bundleHash: o.BundleHash, version: o.Version, rand: o.Rand, now: o.Now,
		limiter: ratelimit.New(o.Config.Join.RateBurst, o.Config.Join.RateInterval, maxRateKeys),
		router:  o.Router, metrics: o.Metrics, ready: o.Ready,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if p, ok := o.RTC.(interface{ E2EE() http.Handler }); ok && s.e2ee == nil {
		s.e2ee = p.E2EE()
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.web != nil {
		s.assets = newAssets(s.web)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.router == nil {
		id := cluster.NodeID(o.Config.Node.ID)
		if id == "" {
			id = "local"
		}
		s.router = cluster.NewLocal(id, o.Config.NodeURL(), placementTTL(o.Config), s.now)
	}
	if s.ready == nil {
		s.ready = func(context.Context) error { return nil }
	}
	return s, nil
}

// Handler returns the HTTP routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/meetings", s.handleCreateMeeting)
	mux.HandleFunc("POST /api/join", s.handleJoin)
	mux.HandleFunc("GET /api/version", s.handleVersion)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ready(r.Context()); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not ready")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	rtc := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusServiceUnavailable, "media is not available on this server")
	}))
	if s.rtc != nil {
		rtc = s.rtc
	}
	mux.Handle("/rtc", rtc)
	mux.Handle("/rtc/", rtc)
	e2ee := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusServiceUnavailable, "end-to-end encryption is not available on this server")
	}))
	if s.e2ee != nil {
		e2ee = s.e2ee
	}
	mux.Handle("GET /e2ee", e2ee)
	mux.HandleFunc("GET /m/{room}", s.handleApp)
	mux.HandleFunc("GET /{$}", s.handleApp)
	mux.HandleFunc("/", s.handleAsset)
	return securityHeaders(mux)
}

// contentSecurityPolicy lets the app load only what this server serves. The
// MLS WASM module needs 'wasm-unsafe-eval'; nothing needs 'unsafe-inline'.
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
	"connect-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; style-src 'self'; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=()")
		next.ServeHTTP(w, r)
	})
}

// handleApp serves the single-page app for / and /m/<room>. The room ID in
// the path is not looked at here; the app presents it to /api/join.
func (s *Server) handleApp(w http.ResponseWriter, r *http.Request) {
	s.serveFile(w, r, "index.html")
}

func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if name == "" || name == "index.html" {
		s.serveFile(w, r, "index.html")
		return
	}
	s.serveFile(w, r, name)
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	if s.web == nil {
		http.Error(w, "the web app is not built into this binary (run `make run`)", http.StatusServiceUnavailable)
		return
	}
	// Dotfiles (the build's placeholder among them) are never part of the app.
	if !fs.ValidPath(name) || strings.HasPrefix(path.Base(name), ".") {
		http.NotFound(w, r)
		return
	}
	if st, err := fs.Stat(s.web, name); err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	a, err := s.assets.get(name)
	if err != nil {
		s.log.Error("serve asset", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	a.serve(w, r)
}

// PurgeIdle forgets meetings idle past the retention limit.
func (s *Server) PurgeIdle(ctx context.Context) {
	n, err := s.store.PurgeIdle(ctx, s.now().Add(-s.cfg.Retention.IdleMeetings))
	if err != nil {
		s.log.Error("purge idle meetings", "err", err)
		return
	}
	if n > 0 {
		s.log.Info("purged idle meetings", "count", n)
	}
}

// placementTTL is how long a meeting stays placed on its node after a join
// while nobody is connected: long enough to connect with the token from
// /api/join, short enough that an idle meeting is soon placed afresh.
func placementTTL(cfg Config) time.Duration {
	return max(2*time.Minute, cfg.Join.TokenTTL)
}
