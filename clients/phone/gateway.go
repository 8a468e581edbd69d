package phone

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"conclave/clients/phone/dialin"
	"conclave/clients/phone/sdp"
	sipauth "conclave/clients/phone/sip"
)

// Directory resolves dial-in codes (dialin.Directory implements it).
type Directory interface {
	Lookup(code string) (dialin.Room, error)
}

// Options builds a Gateway.
type Options struct {
	Config   Config
	Logger   *slog.Logger
	Meetings Meetings
	// Directory of dial-in codes, Phones the desk phones' credentials
	// file, and GatewayKey the 32-byte gateway key (see package sip).
	Directory  Directory
	Phones     *sipauth.Phones
	GatewayKey []byte
}

// allowed lists the methods we implement (RFC 3261, Section 20.5).
const allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, REGISTER"

// Gateway is a running phone gateway.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	prefs    []sdp.Codec
	mediaIP  netip.Addr
	auth     *sipauth.Authenticator
	trunks   sipauth.AllowList
	flood    *sipauth.FloodLimit
	dir      Directory
	limiter  *dialin.Limiter
	meetings Meetings
	tlsConf  *tls.Config

	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	dialogs *sipgo.DialogServerCache

	callSeq atomic.Uint64
	// infoDigits counts digits received by SIP INFO (a metric; never the
	// digits themselves).
	infoDigits atomic.Uint64
	mu         sync.Mutex
	calls      map[string]*call // by Call-ID
	addrs      map[string]netip.AddrPort
	ready      chan struct{}
	// stopping is closed when Serve is ending: calls hang up and no new
	// call starts (stopped, under mu, orders that with callWG.Add).
	stopping chan struct{}
	stopped  bool
	callWG   sync.WaitGroup
}

// New builds a gateway; Serve runs it.
func New(o Options) (*Gateway, error) {
	cfg := o.Config
	prefs, mediaIP, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if o.Meetings == nil || o.Directory == nil || len(o.GatewayKey) != 32 {
		return nil, fmt.Errorf("%w: meetings, directory and a 32-byte gateway key are required", ErrConfig)
	}
	trunks, err := sipauth.ParseAllowList(cfg.Trunks)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	phones := o.Phones
	if phones == nil {
		phones, _ = sipauth.LoadPhones("")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{
		cfg: cfg, log: log, prefs: prefs, mediaIP: mediaIP,
		auth:     &sipauth.Authenticator{Realm: cfg.Realm, Keys: sipauth.DeriveKeys(o.GatewayKey), Phones: phones, SHA256: cfg.DigestSHA256},
		trunks:   trunks,
		flood:    &sipauth.FloodLimit{},
		dir:      o.Directory,
		limiter:  dialin.NewLimiter(cfg.Limits, nil),
		meetings: o.Meetings,
		calls:    map[string]*call{},
		addrs:    map[string]netip.AddrPort{},
		ready:    make(chan struct{}),
		stopping: make(chan struct{}),
	}
	if cfg.TLS != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: tls: %w", ErrConfig, err)
		}
		g.tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return g, nil
}

// Ready is closed once every listener is bound.
func (g *Gateway) Ready() <-chan struct{} { return g.ready }

// Addr returns the bound address of a transport ("udp", "tcp", "tls").
func (g *Gateway) Addr(transport string) netip.AddrPort {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addrs[transport]
}

// Calls returns the number of calls in progress.
func (g *Gateway) Calls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}

// Serve listens and handles calls until ctx ends, then hangs up every
// call and returns.
func (g *Gateway) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("conclave-phone"), sipgo.WithUserAgenTLSConfig(g.tlsConf))
	if err != nil {
		return fmt.Errorf("phone: sip agent: %w", err)
	}
	defer ua.Close()
	// sipgo logs requests at debug level with their headers; keep its
	// logs at warnings so Authorization headers never reach ours.
	sipLog := slog.New(levelFloor{g.log.Handler(), slog.LevelWarn})
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		return fmt.Errorf("phone: sip server: %w", err)
	}
	client, err := sipgo.NewClient(ua)
	if err != nil {
		return fmt.Errorf("phone: sip client: %w", err)
	}
	g.ua, g.srv, g.client = ua, srv, client
	g.dialogs = sipgo.NewDialogServerCache(client, sip.ContactHeader{Address: sip.Uri{User: "conclave", Host: g.mediaIP.String()}})

	srv.OnInvite(g.onInvite)
	srv.OnAck(g.onAck)
	srv.OnBye(g.onBye)
	srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		// A CANCEL matching a pending INVITE is answered by the
		// transaction layer; this one matched nothing.
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
	})
	srv.OnOptions(g.onOptions)
	srv.OnInfo(g.onInfo)
	srv.OnUpdate(g.onUpdate)
	srv.OnRegister(g.onRegister)
	srv.OnNoRoute(g.onNoRoute)

	errc := make(chan error, 3)
	var listeners []func()
	start := func(name string, serve func() error, addr net.Addr, closeFn func()) {
		ap, _ := netip.ParseAddrPort(addr.String())
		g.mu.Lock()
		g.addrs[name] = ap
		g.mu.Unlock()
		listeners = append(listeners, closeFn)
		go func() { errc <- serve() }()
	}
	if g.cfg.UDP != "" {
		pc, err := net.ListenPacket("udp", g.cfg.UDP)
		if err != nil {
			return fmt.Errorf("phone: listen udp: %w", err)
		}
		start("udp", func() error { return srv.ServeUDP(pc) }, pc.LocalAddr(), func() { pc.Close() })
	}
	if g.cfg.TCP != "" {
		l, err := net.Listen("tcp", g.cfg.TCP)
		if err != nil {
			return fmt.Errorf("phone: listen tcp: %w", err)
		}
		start("tcp", func() error { return srv.ServeTCP(l) }, l.Addr(), func() { l.Close() })
	}
	if g.cfg.TLS != "" {
		l, err := tls.Listen("tcp", g.cfg.TLS, g.tlsConf)
		if err != nil {
			return fmt.Errorf("phone: listen tls: %w", err)
		}
		start("tls", func() error { return srv.ServeTLS(l) }, l.Addr(), func() { l.Close() })
	}
	g.log.Info("phone gateway listening", "udp", g.Addr("udp"), "tcp", g.Addr("tcp"), "tls", g.Addr("tls"))
	close(g.ready)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		cancel()
	}
	// Calls see stopping, hang up and finish.
	g.mu.Lock()
	g.stopped = true
	close(g.stopping)
	g.mu.Unlock()
	g.callWG.Wait()
	for _, c := range listeners {
		c()
	}
	_ = srv.Close()
	if serveErr != nil && ctx.Err() == nil {
		return fmt.Errorf("phone: serve: %w", serveErr)
	}
	return nil
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, headers ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func sourceAddr(req *sip.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (g *Gateway) callByID(req *sip.Request) *call {
	id := req.CallID()
	if id == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[id.Value()]
}

func (g *Gateway) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	// Keepalives and capability queries (RFC 3261, Section 11); they
	// reveal only what any INVITE's answer would.
	respond(tx, req, 200, "OK",
		sip.NewHeader("Allow", allowed),
		sip.NewHeader("Accept", "application/sdp, application/dtmf-relay, application/dtmf"),
		sip.NewHeader("Supported", "timer"))
}

func (g *Gateway) onNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	switch req.Method {
	case sip.SUBSCRIBE, sip.NOTIFY, sip.REFER, sip.MESSAGE, sip.PUBLISH, sip.PRACK:
		// Known methods we do not allow (RFC 3261, Section 21.4.6).
		respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allowed))
	default:
		respond(tx, req, 501, "Not Implemented", sip.NewHeader("Allow", allowed))
	}
}

func (g *Gateway) onAck(req *sip.Request, tx sip.ServerTransaction) {
	_ = g.dialogs.ReadAck(req, tx)
}

func (g *Gateway) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := g.callByID(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if err := g.dialogs.ReadBye(req, tx); err != nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.hungUp()
}

func (g *Gateway) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := g.callByID(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	d, err := parseInfoDigit(ct, req.Body())
	if err != nil {
		respond(tx, req, 415, "Unsupported Media Type", sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	}
	// Queue the digit before answering: the phone sends the next INFO
	// only after this 200, and handlers run concurrently.
	c.digit(d)
	g.infoDigits.Add(1)
	respond(tx, req, 200, "OK")
}

func (g *Gateway) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	c := g.callByID(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if len(req.Body()) > 0 {
		// Changing media mid-call is not supported (RFC 3311 allows
		// refusing): keep the session as negotiated.
		respond(tx, req, 488, "Not Acceptable Here")
		return
	}
	c.refresh()
	respond(tx, req, 200, "OK", c.timerHeaders()...)
}

func (g *Gateway) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	src := sourceAddr(req)
	if _, ok := g.authenticate(req, tx, src); !ok {
		return
	}
	// Desk phones register out of habit; the gateway never calls them,
	// so the binding is acknowledged and not stored.
	exp := 600
	if h := req.GetHeader("Expires"); h != nil {
		if v, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil {
			exp = min(max(v, 0), 3600)
		}
	}
	hs := []sip.Header{sip.NewHeader("Expires", strconv.Itoa(exp))}
	if ct := req.Contact(); ct != nil && exp > 0 {
		hs = append(hs, sip.NewHeader("Contact", ct.Value()+";expires="+strconv.Itoa(exp)))
	}
	respond(tx, req, 200, "OK", hs...)
}

// authenticate checks a request from a desk phone (digest) unless it comes
// from an allow-listed trunk. On failure it has answered the request.
func (g *Gateway) authenticate(req *sip.Request, tx sip.ServerTransaction, src netip.Addr) (who identity, ok bool) {
	if g.trunks.Contains(src) {
		return identity{trunk: true, addr: src}, true
	}
	if g.auth.Phones.Len() == 0 {
		// No desk phones are configured: only trunks may call.
		respond(tx, req, 403, "Forbidden")
		return identity{}, false
	}
	h := req.GetHeader("Authorization")
	if h == nil {
		g.challenge(req, tx, src, false)
		return identity{}, false
	}
	user, err := g.auth.Verify(string(req.Method), h.Value(), src)
	switch {
	case errors.Is(err, sipauth.ErrStale):
		g.challenge(req, tx, src, true)
		return identity{}, false
	case err != nil:
		g.log.Info("sip authentication failed", "method", string(req.Method), "src", src)
		respond(tx, req, 403, "Forbidden")
		return identity{}, false
	}
	return identity{user: user, addr: src}, true
}

func (g *Gateway) challenge(req *sip.Request, tx sip.ServerTransaction, src netip.Addr, stale bool) {
	var hs []sip.Header
	for _, c := range g.auth.Challenges(src, stale) {
		hs = append(hs, sip.NewHeader("WWW-Authenticate", c))
	}
	respond(tx, req, 401, "Unauthorized", hs...)
}

// identity is who is calling.
type identity struct {
	trunk bool
	user  string // desk phone user
	addr  netip.Addr
}

// levelFloor drops records below a level.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (l levelFloor) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.Handler.Enabled(ctx, lv)
}

func (l levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{l.Handler.WithAttrs(a), l.min}
}

func (l levelFloor) WithGroup(n string) slog.Handler {
	return levelFloor{l.Handler.WithGroup(n), l.min}
}
