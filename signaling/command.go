package signaling

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

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
	NewRTC func(cfg Config, verify *token.Verifier, log *slog.Logger) (RTCHandler, MediaInfo, error)
}

// MediaInfo describes the media plane's sockets, for the start-up banner.
type MediaInfo struct {
	UDPPort, TCPPort, TURNPort int
}

// Command is `conclave serve`: it parses flags over the config file over the
// defaults, starts the server and runs until ctx is cancelled.
func Command(ctx context.Context, app App, args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	fset.SetOutput(stderr)
	configFile := fset.String("config", "", "YAML config file (see deploy/conclave.example.yaml); flags override it")
	listen := fset.String("listen", cfg.Listen, "HTTP listen address")
	data := fset.String("data", cfg.Data, "data folder (SQLite database, token key)")
	udpPort := fset.Int("udp-port", cfg.Media.UDPPort, "the one UDP port for media (0 = pick one)")
	tcpPort := fset.Int("tcp-port", cfg.Media.TCPPort, "ICE-TCP fallback port (0 = pick one, -1 = off)")
	turnPort := fset.Int("turn-port", cfg.TURN.UDPPort, "embedded TURN server's port (0 = pick one)")
	noTURN := fset.Bool("no-turn", false, "do not run the embedded TURN server")
	publicURL := fset.String("public-url", "", "base URL for links, e.g. https://meet.example.org (default http://LISTEN)")
	logLevel := fset.String("log-level", cfg.LogLevel, "debug, info, warn or error")
	noLink := fset.Bool("no-link", false, "do not create and print a first meeting link")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *configFile != "" {
		if err := LoadConfigFile(&cfg, *configFile); err != nil {
			return err
		}
	}
	fset.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			cfg.Listen = *listen
		case "data":
			cfg.Data = *data
		case "udp-port":
			cfg.Media.UDPPort = *udpPort
		case "tcp-port":
			cfg.Media.TCPPort = *tcpPort
		case "turn-port":
			cfg.TURN.UDPPort = *turnPort
		case "no-turn":
			cfg.TURN.Enabled = !*noTURN
		case "public-url":
			cfg.PublicURL = *publicURL
		case "log-level":
			cfg.LogLevel = *logLevel
		}
	})
	if err := cfg.Validate(); err != nil {
		return err
	}
	level, _ := ParseLogLevel(cfg.LogLevel)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return run(ctx, cfg, app, !*noLink, stdout, log)
}

func run(ctx context.Context, cfg Config, app App, printLink bool, stdout io.Writer, log *slog.Logger) error {
	st, err := store.OpenSQLite(ctx, cfg.Data)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()
	key, err := loadOrCreateTokenKey(cfg.Data)
	if err != nil {
		return err
	}
	// Bind first so that port 0 resolves before links are printed.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen: %w", err)
	}
	cfg.Listen = ln.Addr().String()

	var rtc RTCHandler
	var media MediaInfo
	if app.NewRTC != nil {
		rtc, media, err = app.NewRTC(cfg, token.NewVerifier(apiKeyName, key), log)
		if err != nil {
			ln.Close()
			return fmt.Errorf("serve: media: %w", err)
		}
	}
	srv, err := NewServer(Options{
		Config: cfg, Logger: log, Store: st, Issuer: token.NewIssuer(apiKeyName, key), RTC: rtc,
		Web: app.Web, BundleHash: app.BundleHash, Version: app.Version,
	})
	if err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	base := cfg.BaseURL()
	fmt.Fprintf(stdout, "Conclave %s is running at %s\n", app.Version, base)
	if app.BundleHash != "" {
		fmt.Fprintf(stdout, "Web bundle SHA-256: %s\n", app.BundleHash)
	}
	if rtc != nil {
		fmt.Fprintf(stdout, "Media: UDP port %d (all ICE traffic), ICE-TCP port %d, TURN port %d\n", media.UDPPort, media.TCPPort, media.TURNPort)
	}
	if printLink {
		link, err := firstLink(ctx, st, base)
		if err != nil {
			log.Error("first meeting link", "err", err)
		} else {
			fmt.Fprintf(stdout, "First meeting link (its #secret part is never sent to the server; share it only with participants):\n  %s\n", link)
		}
	}
	log.Info("serving", "listen", cfg.Listen, "udp_port", media.UDPPort)

	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	srv.PurgeIdle(ctx)
	for {
		select {
		case err := <-serveErr:
			if rtc != nil {
				rtc.Shutdown(context.Background())
			}
			return fmt.Errorf("serve: %w", err)
		case <-purge.C:
			srv.PurgeIdle(ctx)
		case <-ctx.Done():
			log.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var errs []error
			if rtc != nil {
				// Tell participants first, while their connections are up.
				errs = append(errs, rtc.Shutdown(sctx))
			}
			if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		}
	}
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
