package signaling

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"conclave/internal/procs"
	"conclave/signaling/admin"
	"conclave/signaling/audit"
	"conclave/signaling/cluster"
	"conclave/signaling/metrics"
	"conclave/signaling/store"
	"conclave/signaling/token"
)

// apiKeyName is the issuer name in access tokens minted by this server.
const apiKeyName = "conclave"

// App is what the serve command needs from outside this package: the built
// web bundle and the build's identity.
type App struct {
	Web        fs.FS // nil when the binary was built without the web bundle
	BundleHash string
	Version    string
	// NewRTC builds the media plane (SFU + /rtc) for cfg; nil serves no media.
	// If the handler also implements cluster.Local (its rooms, end a room,
	// remove a participant), the admin API and the node's load use it; if it
	// implements metrics.Forwarding, its counters are exported.
	// The issuer lets it refresh connected participants' tokens. busy
	// announces a burst of control work (a participant's arrival) to the
	// scheduler sizing (internal/procs); it is never nil.
	NewRTC func(cfg Config, verify *token.Verifier, issue *token.Issuer, busy func(), log *slog.Logger) (RTCHandler, MediaInfo, error)
	// Remover, when set, removes participants from a meeting's membership
	// before the media plane disconnects them: the E2EE delivery service's
	// MLS Remove proposal. nil: taken from the RTC handler if it implements
	// cluster.Remover; else removal only disconnects from the media room.
	Remover cluster.Remover
}

// MediaInfo describes the media plane's sockets, for the start-up banner.
type MediaInfo struct {
	UDPPort, TCPPort, TURNPort int
}

// Command is `conclave serve`: it parses flags over the config file over the
// defaults, starts the server and runs until ctx is cancelled.
func Command(ctx context.Context, app App, args []string, stdout, stderr io.Writer) error {
	cfg, opts, err := parseServeArgs(args, stderr)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if opts.cpuProfile != "" {
		stop, err := startRecording("cpu profile", opts.cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if opts.trace != "" {
		stop, err := startRecording("trace", opts.trace, trace.Start, trace.Stop)
		if err != nil {
			return err
		}
		defer stop()
	}
	level, _ := ParseLogLevel(cfg.LogLevel)
	var handler slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if cfg.LogFormat == "json" {
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(handler)
	busy, stopProcs := sizeScheduler(ctx, cfg.Media.Procs, log)
	defer stopProcs()
	return run(ctx, cfg, app, busy, !opts.noLink, stdout, log)
}

// serveOptions are `conclave serve` flags that are not configuration.
type serveOptions struct {
	noLink     bool
	cpuProfile string
	trace      string
}

// startRecording writes what start records to path until stop is called (at
// shutdown): a pprof CPU profile (how the SFU's costs are measured under
// load) or a Go execution trace (where a goroutine waited, and for what,
// when a packet was late); docs/benchmarks.md uses both. A trace costs a
// few percent of CPU while it runs.
func startRecording(what, path string, start func(io.Writer) error, end func()) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("serve: %s: %w", what, err)
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("serve: %s: %w", what, err)
	}
	return func() {
		end()
		f.Close()
	}, nil
}

// parseServeArgs returns the configuration args ask for: the defaults,
// overlaid by the --config file, overlaid by every other flag given. The
// flags are parsed twice: first only to find --config, then bound to the
// config that file made, so that each flag given overrides the file.
func parseServeArgs(args []string, stderr io.Writer) (cfg Config, opts serveOptions, err error) {
	cfg = DefaultConfig()
	scratch := DefaultConfig()
	first := flag.NewFlagSet("serve", flag.ContinueOnError)
	first.SetOutput(io.Discard)
	configFile := serveFlags(first, &scratch, &serveOptions{})
	if first.Parse(args) == nil && *configFile != "" {
		if err := LoadConfigFile(&cfg, *configFile); err != nil {
			return cfg, opts, err
		}
	}
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	fset.SetOutput(stderr)
	serveFlags(fset, &cfg, &opts)
	if err := fset.Parse(args); err != nil {
		return cfg, opts, err
	}
	return cfg, opts, nil
}

// serveFlags defines `conclave serve`'s flags on fset, each bound to its
// field of cfg, with cfg's values as defaults.
func serveFlags(fset *flag.FlagSet, cfg *Config, opts *serveOptions) (configFile *string) {
	configFile = fset.String("config", "", "YAML config file (see deploy/conclave.example.yaml); flags override it")
	fset.StringVar(&cfg.Listen, "listen", cfg.Listen, "HTTP listen address")
	fset.StringVar(&cfg.Data, "data", cfg.Data, "data folder (SQLite database, token key)")
	fset.IntVar(&cfg.Media.UDPPort, "udp-port", cfg.Media.UDPPort, "the one UDP port for media (0 = pick one)")
	fset.IntVar(&cfg.Media.TCPPort, "tcp-port", cfg.Media.TCPPort, "ICE-TCP fallback port (0 = pick one, -1 = off)")
	fset.IntVar(&cfg.TURN.UDPPort, "turn-port", cfg.TURN.UDPPort, "embedded TURN server's port (0 = pick one)")
	fset.BoolFunc("no-turn", "do not run the embedded TURN server", func(v string) error {
		off, err := strconv.ParseBool(v)
		cfg.TURN.Enabled = !off
		return err
	})
	fset.IntVar(&cfg.Media.Procs, "procs", cfg.Media.Procs, "CPUs to run Go code on at once (0 = as many as the load needs)")
	fset.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "base URL for links, e.g. https://meet.example.org (default http://LISTEN)")
	fset.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fset.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json")
	fset.BoolVar(&opts.noLink, "no-link", false, "do not create and print a first meeting link")
	fset.StringVar(&opts.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the server to this file until it stops")
	fset.StringVar(&opts.trace, "trace", "", "write a Go execution trace of the server to this file until it stops")
	fset.StringVar(&cfg.Redis.URL, "redis", cfg.Redis.URL, "join a cluster through this Redis (redis://[:PASSWORD@]HOST:PORT/DB)")
	fset.StringVar(&cfg.Admin.Listen, "admin-listen", cfg.Admin.Listen, "admin API address, e.g. 127.0.0.1:8081 (default: none)")
	fset.StringVar(&cfg.Node.ID, "node-id", cfg.Node.ID, "this node's name in the cluster (default: random)")
	fset.StringVar(&cfg.Node.URL, "node-url", cfg.Node.URL, "this node's own base URL for participants of its meetings (default: public URL)")
	fset.StringVar(&cfg.TLS.Cert, "tls-cert", cfg.TLS.Cert, "serve HTTPS with this PEM certificate chain (with --tls-key)")
	fset.StringVar(&cfg.TLS.Key, "tls-key", cfg.TLS.Key, "the PEM private key of --tls-cert")
	return configFile
}

func run(ctx context.Context, cfg Config, app App, busy func(), printLink bool, stdout io.Writer, log *slog.Logger) (err error) {
	key, err := loadOrCreateTokenKey(cfg.Data)
	if err != nil {
		return err
	}
	// Bind first so that port 0 resolves before links are printed.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen: %w", err)
	}
	defer ln.Close()
	cfg.Listen = ln.Addr().String()
	tlsSide, err := newServerTLS(cfg, log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	// HTTP-01 challenges (and a redirect to https for everything else) on
	// the address the admin named for it, only with ACME.
	var acmeLn net.Listener
	if tlsSide != nil && tlsSide.acme != nil && cfg.TLS.ACMEHTTPListen != "" {
		if acmeLn, err = net.Listen("tcp", cfg.TLS.ACMEHTTPListen); err != nil {
			return fmt.Errorf("serve: acme http listen: %w", err)
		}
		defer acmeLn.Close()
	}
	var adminLn net.Listener
	if cfg.Admin.Listen != "" {
		if adminLn, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			return fmt.Errorf("serve: admin listen: %w", err)
		}
		defer adminLn.Close()
		cfg.Admin.Listen = adminLn.Addr().String()
	}
	id := cluster.NodeID(cfg.Node.ID)
	if id == "" {
		if id, err = newNodeID(); err != nil {
			return err
		}
	}

	var (
		st     store.Store
		router cluster.Router
	)
	if cfg.Redis.URL != "" {
		opts, err := redis.ParseURL(cfg.Redis.URL)
		if err != nil {
			return errors.New("serve: redis.url is not a redis:// or rediss:// URL")
		}
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = rdb.Ping(pctx).Err()
		cancel()
		if err != nil {
			return fmt.Errorf("serve: redis at %s: %w", opts.Addr, err)
		}
		st = cluster.NewRedisStore(rdb, cfg.Redis.Prefix, cfg.Retention.IdleMeetings)
		if router, err = cluster.NewRedis(cluster.RedisOptions{
			Client: rdb, Self: id, URL: cfg.NodeURL(), Prefix: cfg.Redis.Prefix,
			DeadAfter: cfg.Redis.DeadAfter, RoomTTL: placementTTL(cfg), Logger: log,
		}); err != nil {
			return err
		}
	} else {
		sq, err := store.OpenSQLite(ctx, cfg.Data)
		if err != nil {
			return err
		}
		defer func() {
			if err := sq.Close(); err != nil {
				log.Error("close store", "err", err)
			}
		}()
		st = sq
		router = cluster.NewLocal(id, cfg.NodeURL(), placementTTL(cfg), nil)
	}

	var rtc RTCHandler
	var media MediaInfo
	if app.NewRTC != nil {
		rtc, media, err = app.NewRTC(cfg, token.NewVerifier(apiKeyName, key), token.NewIssuer(apiKeyName, key), busy, log)
		if err != nil {
			return fmt.Errorf("serve: media: %w", err)
		}
	}
	// stopMedia tells participants and closes the media plane, once; a start
	// that fails after this point stops it on the way out.
	var mediaStopped bool
	stopMedia := func(ctx context.Context) error {
		if rtc == nil || mediaStopped {
			return nil
		}
		mediaStopped = true
		return rtc.Shutdown(ctx)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopMedia(sctx)
	}()
	local := cluster.Local(cluster.NoMedia{})
	if l, ok := rtc.(cluster.Local); ok {
		local = l
	}
	remover := app.Remover
	if r, ok := rtc.(cluster.Remover); ok && remover == nil {
		remover = r
	}
	local = cluster.WithRemover(local, remover)
	m := metrics.New()
	if f, ok := rtc.(metrics.Forwarding); ok {
		m.SetForwarding(f)
	}
	if p, ok := rtc.(metrics.PacketCounts); ok {
		m.SetPacketCounts(p)
	}
	if p, ok := rtc.(interface{ E2EE() http.Handler }); ok {
		if q, ok := p.E2EE().(metrics.DeliveryQueues); ok {
			m.SetDeliveryQueues(q)
		}
	}
	ctrl := cluster.NewController(router, local)
	beat := &heartbeat{router: router, local: local, metrics: m, log: log, stale: cfg.Redis.DeadAfter}
	// One heartbeat before serving, so that this node can be placed on at
	// once and a broken Redis stops the start.
	if err := beat.beat(ctx); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv, err := NewServer(Options{
		Config: cfg, Logger: log, Store: st, Issuer: token.NewIssuer(apiKeyName, key), RTC: rtc,
		Web: app.Web, BundleHash: app.BundleHash, Version: app.Version,
		Router: router, Metrics: m, Ready: beat.ready,
	})
	if err != nil {
		return err
	}

	var adminHS *http.Server
	if adminLn != nil {
		db, err := admin.OpenDB(ctx, cfg.Data)
		if err != nil {
			return err
		}
		defer db.Close()
		creds, err := admin.NewCredentials(ctx, db, admin.DefaultArgon2, nil)
		if err != nil {
			return err
		}
		alog, err := audit.Open(ctx, db, log, nil)
		if err != nil {
			return err
		}
		asrv, err := admin.NewServer(admin.Options{
			Credentials: creds, Audit: alog, Powers: ctrl, Logger: log,
			Metrics: m.Handler(), Ready: beat.ready, SessionTTL: cfg.Admin.SessionTTL,
		})
		if err != nil {
			return err
		}
		adminHS = &http.Server{
			Handler:           asrv.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			BaseContext:       func(net.Listener) context.Context { return ctx },
		}
	}

	// Background work ends with loops, and run waits for it.
	loops, stopLoops := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopLoops()
	wg.Go(func() {
		if err := router.Serve(loops, ctrl.Handler()); err != nil {
			log.Error("cluster commands", "err", err)
		}
	})
	wg.Go(func() { beat.loop(loops, cfg.Redis.Heartbeat) })

	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	serveErr := make(chan error, 3)
	if tlsSide != nil {
		hs.TLSConfig = tlsSide.config
		go func() { serveErr <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { serveErr <- hs.Serve(ln) }()
	}
	if adminHS != nil {
		go func() { serveErr <- adminHS.Serve(adminLn) }()
	}
	var acmeHS *http.Server
	if acmeLn != nil {
		acmeHS = &http.Server{
			Handler:           tlsSide.acme.HTTPHandler(nil),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			BaseContext:       func(net.Listener) context.Context { return ctx },
		}
		go func() { serveErr <- acmeHS.Serve(acmeLn) }()
	}

	base := cfg.BaseURL()
	fmt.Fprintf(stdout, "Conclave %s is running at %s\n", app.Version, base)
	if app.BundleHash != "" {
		fmt.Fprintf(stdout, "Web bundle SHA-256: %s\n", app.BundleHash)
	}
	if rtc != nil {
		fmt.Fprintf(stdout, "Media: UDP port %d (all ICE traffic), ICE-TCP port %d, TURN port %d\n", media.UDPPort, media.TCPPort, media.TURNPort)
	}
	if cfg.Redis.URL != "" {
		fmt.Fprintf(stdout, "Cluster node %s at %s\n", id, cfg.NodeURL())
	}
	if adminHS != nil {
		fmt.Fprintf(stdout, "Admin API, metrics and health at http://%s (conclave admin --help)\n", cfg.Admin.Listen)
	}
	if tlsSide != nil && tlsSide.acme != nil {
		challenge := "TLS-ALPN-01 on " + cfg.Listen
		if acmeLn != nil {
			challenge += ", HTTP-01 on " + acmeLn.Addr().String()
		}
		fmt.Fprintf(stdout, "TLS certificates for %s from the ACME CA at %s, fetched at the first HTTPS request (%s)\n",
			strings.Join(cfg.TLS.ACMEDomains, ", "), cfg.TLS.ACMEDirectory, challenge)
	}
	if printLink {
		link, err := firstLink(ctx, st, base)
		if err != nil {
			log.Error("first meeting link", "err", err)
		} else {
			fmt.Fprintf(stdout, "First meeting link (its #secret part is never sent to the server; share it only with participants):\n  %s\n", link)
		}
	}
	log.Info("serving", "listen", cfg.Listen, "udp_port", media.UDPPort, "node", id, "cluster", cfg.Redis.URL != "", "admin", cfg.Admin.Listen, "tls", tlsSide != nil)

	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	srv.PurgeIdle(ctx)
	for {
		select {
		case err := <-serveErr:
			stopLoops()
			stopMedia(context.Background())
			hs.Close()
			if adminHS != nil {
				adminHS.Close()
			}
			if acmeHS != nil {
				acmeHS.Close()
			}
			return fmt.Errorf("serve: %w", err)
		case <-purge.C:
			srv.PurgeIdle(ctx)
		case <-ctx.Done():
			log.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var errs []error
			// Leave the cluster first, so that no new meeting is placed here
			// and this node's meetings go elsewhere at their next join.
			if err := router.Leave(sctx); err != nil {
				errs = append(errs, err)
			}
			// Tell participants first, while their connections are up.
			errs = append(errs, stopMedia(sctx))
			if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
			for _, other := range []*http.Server{adminHS, acmeHS} {
				if other == nil {
					continue
				}
				if err := other.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		}
	}
}

// heartbeat renews this node's record with its load, places the meetings of
// dead nodes, and keeps the metrics of both.
type heartbeat struct {
	router  cluster.Router
	local   cluster.Local
	metrics *metrics.Metrics
	log     *slog.Logger
	stale   time.Duration // no success for this long: not ready

	mu     sync.Mutex
	lastOK time.Time
}

func (h *heartbeat) beat(ctx context.Context) error {
	rooms := h.local.Rooms()
	parts := 0
	for _, r := range rooms {
		parts += r.Participants
	}
	h.metrics.SetLoad(len(rooms), parts)
	if err := h.router.Heartbeat(ctx, cluster.Load{Rooms: rooms}); err != nil {
		h.metrics.HeartbeatFailed()
		return err
	}
	moved, err := h.router.Reap(ctx)
	h.metrics.RoomsReplaced(moved)
	if err != nil {
		return err
	}
	nodes, err := h.router.Nodes(ctx)
	if err != nil {
		return err
	}
	draining := false
	for _, n := range nodes {
		if n.ID == h.router.Self() {
			draining = n.Draining
		}
	}
	h.metrics.SetCluster(len(nodes), draining)
	h.mu.Lock()
	h.lastOK = time.Now()
	h.mu.Unlock()
	return nil
}

// loop beats every interval until ctx ends.
func (h *heartbeat) loop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			bctx, cancel := context.WithTimeout(ctx, every)
			if err := h.beat(bctx); err != nil && ctx.Err() == nil {
				h.log.Warn("cluster heartbeat", "err", err)
			}
			cancel()
		}
	}
}

// ready fails once heartbeats have failed for longer than a node may be
// silent: the cluster takes this node for dead by then.
func (h *heartbeat) ready(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.lastOK) > h.stale {
		return errors.New("cluster heartbeat failing")
	}
	return nil
}

// newNodeID draws a random node name.
func newNodeID() (cluster.NodeID, error) {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	return cluster.NodeID("node-" + strings.ToLower(identityEncoding.EncodeToString(b[:]))), nil
}

// firstLink creates a meeting and formats its link with a fresh secret that
// only the person reading the terminal gets.
func firstLink(ctx context.Context, st store.Store, base string) (string, error) {
	id, err := NewRoomID(randReader{})
	if err != nil {
		return "", err
	}
	if err := st.CreateMeeting(ctx, id.Hash(), time.Now()); err != nil {
		return "", err
	}
	secret, err := NewLinkSecret()
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(base, "/") {
		base = strings.TrimSuffix(base, "/")
	}
	return MeetingLink(base, id, secret), nil
}

// sizeScheduler sets GOMAXPROCS to n, or with 0 (and no GOMAXPROCS in
// the environment) runs an adaptive procs.Controller until stop. busy
// announces a burst of control work to that controller; with a fixed count
// it does nothing.
func sizeScheduler(ctx context.Context, n int, log *slog.Logger) (busy, stop func()) {
	if n > 0 {
		prev := runtime.GOMAXPROCS(n)
		return func() {}, func() { runtime.GOMAXPROCS(prev) }
	}
	if os.Getenv("GOMAXPROCS") != "" {
		return func() {}, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	c := procs.NewController()
	c.Logger = log
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			log.Error("adaptive GOMAXPROCS stopped", "err", err)
		}
	}()
	return c.Busy, func() { cancel(); <-done }
}
