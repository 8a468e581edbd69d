package ds_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"conclave/e2ee/dsproto"
	"conclave/e2ee/mls"
	"conclave/signaling/ds"
	"conclave/signaling/token"
)

const (
	roomA   = "room-key-a"
	roomB   = "room-key-b"
	timeout = 5 * time.Second
	cs      = mls.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
)

var tokenSecret = bytes.Repeat([]byte{0x42}, 32)

// harness runs a DS behind a real HTTP server on loopback.
type harness struct {
	t      testing.TB
	srv    *ds.Server
	key    *mls.SignatureKey
	http   *httptest.Server
	issuer *token.Issuer
	// ttl is the lifetime of the tokens the harness dials with (zero: an
	// hour).
	ttl time.Duration

	mu         sync.Mutex
	admissions []string // "room/identity" per OnAdmission call
}

func newHarness(t testing.TB, cfg ds.Config) *harness {
	t.Helper()
	return newHarnessWith(t, cfg, token.NewIssuer("conclave", tokenSecret), token.NewVerifier("conclave", tokenSecret), nil)
}

// newHarnessWith runs a DS accepting the tokens of verifier; onAdmission,
// if set, is called after the harness records each admission change.
func newHarnessWith(t testing.TB, cfg ds.Config, issuer *token.Issuer, verifier *token.Verifier, onAdmission func(room, identity string)) *harness {
	t.Helper()
	return newHarnessLog(t, cfg, issuer, verifier, onAdmission, nil)
}

// newHarnessLog is newHarnessWith with the server logging to log.
func newHarnessLog(t testing.TB, cfg ds.Config, issuer *token.Issuer, verifier *token.Verifier, onAdmission func(room, identity string), log *slog.Logger) *harness {
	t.Helper()
	key, err := ds.LoadOrCreateKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, key: key, issuer: issuer}
	cfg.OnAdmission = func(room, identity string) {
		h.mu.Lock()
		h.admissions = append(h.admissions, room+"/"+identity)
		h.mu.Unlock()
		if onAdmission != nil {
			onAdmission(room, identity)
		}
	}
	h.srv, err = ds.New(cfg, key, func(tok string) (*token.Claims, error) { return verifier.Verify(tok, time.Now()) }, log)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/e2ee", h.srv)
	h.http = httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := h.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		h.http.Close()
	})
	return h
}

func (h *harness) token(room, identity string) string {
	ttl := h.ttl
	if ttl == 0 {
		ttl = time.Hour
	}
	tok, err := h.issuer.Issue(token.Claims{Identity: identity, Name: identity, Room: room, CanPublish: true, CanSubscribe: true}, ttl)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) url(tok string) string {
	return "ws" + strings.TrimPrefix(h.http.URL, "http") + "/e2ee?access_token=" + url.QueryEscape(tok)
}

// dial connects identity to room without saying Hello.
func (h *harness) dial(room, identity string) *client {
	h.t.Helper()
	return h.dialToken(h.token(room, identity), identity)
}

// dialToken connects with tok (whose identity is name) without saying
// Hello.
func (h *harness) dialToken(tok, name string) *client {
	h.t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(h.url(tok), nil)
	if err != nil {
		h.t.Fatalf("dial %s: %v (response %v)", name, err, resp)
	}
	c := &client{
		t: h.t, name: name, ws: ws, token: tok,
		in: make(chan dsproto.Message, 4096), tokens: make(chan string, 64), done: make(chan struct{}),
	}
	go c.readLoop()
	h.t.Cleanup(func() { c.ws.Close(); <-c.done })
	return c
}

// eventually polls cond until it returns "" or the deadline passes.
func eventually(t testing.TB, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) admitted(room, identity string) bool { return h.srv.Admitted(room, identity) }

func (h *harness) admissionCalls(room, identity string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, a := range h.admissions {
		if a == room+"/"+identity {
			n++
		}
	}
	return n
}

// client is a raw /e2ee WebSocket client. The RefreshTokens the DS sends
// at any time go to tokens (the newest dropped if the test does not read
// them), every other message to in.
type client struct {
	t      testing.TB
	name   string
	ws     *websocket.Conn
	token  string // the token it dialed with
	in     chan dsproto.Message
	tokens chan string
	done   chan struct{}

	mu       sync.Mutex
	closeErr error
	hold     sync.Mutex
}

func (c *client) readLoop() {
	defer close(c.done)
	defer close(c.in)
	for {
		c.hold.Lock() // a test holding it stops this client reading
		c.hold.Unlock()
		kind, b, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.closeErr = err
			c.mu.Unlock()
			return
		}
		if kind != websocket.BinaryMessage {
			continue
		}
		m, err := dsproto.Unmarshal(b)
		if err != nil {
			c.t.Errorf("%s: the DS sent an invalid message: %v", c.name, err)
			return
		}
		if rt, ok := m.(*dsproto.RefreshToken); ok {
			select {
			case c.tokens <- string(rt.Token):
			default:
			}
			continue
		}
		c.in <- m
	}
}

func (c *client) send(m dsproto.Message) {
	c.t.Helper()
	b, err := dsproto.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(websocket.BinaryMessage, b)
}

func (c *client) sendRaw(kind int, b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(kind, b); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

// next returns the next message, failing after the timeout.
func (c *client) next() dsproto.Message {
	c.t.Helper()
	select {
	case m, ok := <-c.in:
		if !ok {
			c.t.Fatalf("%s: connection closed while waiting for a message", c.name)
		}
		return m
	case <-time.After(timeout):
		c.t.Fatalf("%s: no message within %v", c.name, timeout)
	}
	return nil
}

// refreshed waits for the next RefreshToken and returns its token.
func (c *client) refreshed() string {
	c.t.Helper()
	select {
	case tok := <-c.tokens:
		return tok
	case <-time.After(timeout):
		c.t.Fatalf("%s: no RefreshToken within %v", c.name, timeout)
	}
	return ""
}

// expect returns the next message of type T, failing on any other type
// except those listed in skip.
func expect[T dsproto.Message](c *client, skip ...dsproto.Type) T {
	c.t.Helper()
	for {
		m := c.next()
		if v, ok := m.(T); ok {
			return v
		}
		skipped := false
		for _, s := range skip {
			skipped = skipped || m.Type() == s
		}
		if !skipped {
			var zero T
			c.t.Fatalf("%s: got %v %+v, want %T", c.name, m.Type(), m, zero)
		}
	}
}

// barrier makes the DS answer this connection (a Refuse of an unknown
// joiner from a non-member gets Error{not allowed}) and returns every
// message received before that answer. Since the DS handles a room's
// messages in order and queues per connection in order, anything the DS
// meant for this client before the barrier is among them.
func (c *client) barrier() []dsproto.Message {
	c.t.Helper()
	c.send(&dsproto.Refuse{Ref: []byte("barrier")})
	var got []dsproto.Message
	for {
		m := c.next()
		if e, ok := m.(*dsproto.Error); ok && e.Code == dsproto.CodeNotAllowed {
			return got
		}
		got = append(got, m)
	}
}

// closed waits for the DS to close the connection and returns the Error it
// sent before (nil if none), failing on any other message.
func (c *client) closed() *dsproto.Error {
	c.t.Helper()
	var last *dsproto.Error
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				return last
			}
			if e, isErr := m.(*dsproto.Error); isErr {
				last = e
			}
		case <-deadline:
			c.t.Fatalf("%s: connection not closed within %v", c.name, timeout)
		}
	}
}

// member is a test participant with a real MLS state.
type member struct {
	t      testing.TB
	name   string
	c      *client
	bundle *mls.KeyPackageBundle
	group  *mls.Group
	hello  *dsproto.ServerHello
	stash  []*dsproto.Handshake
}

func mlsConfig() mls.Config {
	return mls.Config{PublicHandshake: true, ExternalProposals: mls.AllowExternalRemoveOnly}
}

func newBundle(t testing.TB, name string) *mls.KeyPackageBundle {
	t.Helper()
	sk, err := mls.GenerateSignatureKey(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := mls.NewKeyPackage(mls.KeyPackageOptions{CipherSuite: cs, Credential: mls.BasicCredential([]byte(name)), SignatureKey: sk}, mlsConfig())
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// connect dials and says Hello, expecting role.
func (h *harness) connect(room, name string, role uint8) *member {
	h.t.Helper()
	c := h.dial(room, name)
	c.send(&dsproto.Hello{})
	sh := expect[*dsproto.ServerHello](c)
	if sh.Role != role {
		h.t.Fatalf("%s: role %d, want %d", name, sh.Role, role)
	}
	return &member{t: h.t, name: name, c: c, hello: sh}
}

// create makes the group as the designated creator.
func (m *member) create() {
	m.t.Helper()
	m.bundle = newBundle(m.t, m.name)
	ext, err := mls.ExternalSendersExtension([][]byte{m.hello.SignatureKey}, []mls.Credential{mls.BasicCredential(m.hello.Credential)})
	if err != nil {
		m.t.Fatal(err)
	}
	m.group, err = mls.CreateGroup([]byte("group-"+m.name), m.bundle, mls.GroupOptions{Extensions: []mls.Extension{ext}}, mlsConfig())
	if err != nil {
		m.t.Fatal(err)
	}
	m.c.send(&dsproto.GroupCreated{GroupID: m.group.GroupID(), Epoch: m.group.Epoch()})
	m.c.send(&dsproto.Joined{Epoch: m.group.Epoch(), Leaf: m.group.OwnLeaf()})
}

// knock publishes a KeyPackage and expects Lobby{waiting}.
func (m *member) knock(proof []byte) []byte {
	m.t.Helper()
	m.bundle = newBundle(m.t, m.name)
	m.c.send(&dsproto.KeyPackage{KeyPackage: m.bundle.KeyPackage().Bytes(), Proof: proof})
	if l := expect[*dsproto.Lobby](m.c); l.State != dsproto.LobbyWaiting {
		m.t.Fatalf("%s: lobby state %d, want waiting", m.name, l.State)
	}
	return m.bundle.KeyPackage().Ref()
}

// add commits the Add of the joiners whose JoinRequests this member
// receives next, expecting the DS to accept it.
func (m *member) add(n int) {
	m.t.Helper()
	var kps []*mls.KeyPackage
	for len(kps) < n {
		jr := expect[*dsproto.JoinRequest](m.c, dsproto.TypeLobbyGone)
		kp, err := mls.ParseKeyPackage(jr.KeyPackage)
		if err != nil {
			m.t.Fatal(err)
		}
		if !bytes.Equal(kp.Ref(), jr.Ref) {
			m.t.Fatal("JoinRequest ref does not match its KeyPackage")
		}
		kps = append(kps, kp)
	}
	m.commit(mls.CommitOptions{Add: kps}, true)
	for range kps {
		expect[*dsproto.LobbyGone](m.c, dsproto.TypeJoinRequest)
	}
}

// commit sends a commit and expects it accepted (ok) or refused.
func (m *member) commit(opts mls.CommitOptions, ok bool) *dsproto.CommitResult {
	m.t.Helper()
	res, err := m.group.Commit(opts)
	if err != nil {
		m.t.Fatal(err)
	}
	m.c.send(&dsproto.Commit{Commit: res.Commit, Welcome: res.Welcome})
	if ok {
		m.processHandshake(dsproto.TypeLobbyGone, dsproto.TypeJoinRequest)
	}
	for {
		switch v := m.c.next().(type) {
		case *dsproto.CommitResult:
			if v.OK != ok {
				m.t.Fatalf("%s: commit result %v, want %v", m.name, v.OK, ok)
			}
			return v
		case *dsproto.Handshake:
			// The winner of the epoch, before our result: kept for
			// processHandshake.
			m.stash = append(m.stash, v)
		case *dsproto.LobbyGone, *dsproto.JoinRequest:
		default:
			m.t.Fatalf("%s: got %v, want CommitResult", m.name, v.Type())
		}
	}
}

// processHandshake applies the next Handshake.
func (m *member) processHandshake(skip ...dsproto.Type) *mls.Received {
	m.t.Helper()
	var hs *dsproto.Handshake
	if len(m.stash) > 0 {
		hs, m.stash = m.stash[0], m.stash[1:]
	} else {
		hs = expect[*dsproto.Handshake](m.c, skip...)
	}
	rec, err := m.group.ProcessMessage(hs.Message)
	if err != nil {
		m.t.Fatalf("%s: process handshake %d: %v", m.name, hs.Seq, err)
	}
	return rec
}

// join waits for the Welcome and reports Joined.
func (m *member) join() {
	m.t.Helper()
	w := expect[*dsproto.MLSWelcome](m.c)
	var err error
	m.group, err = mls.JoinFromWelcome(w.Welcome, m.bundle, mls.JoinOptions{}, mlsConfig())
	if err != nil {
		m.t.Fatalf("%s: join: %v", m.name, err)
	}
	if l := expect[*dsproto.Lobby](m.c); l.State != dsproto.LobbyAdmitted {
		m.t.Fatalf("%s: lobby state %d, want admitted", m.name, l.State)
	}
	m.c.send(&dsproto.Joined{Epoch: m.group.Epoch(), Leaf: m.group.OwnLeaf()})
}

// meeting starts a group of n members in room: the first creates, the
// others join through one commit.
func (h *harness) meeting(room string, names ...string) []*member {
	h.t.Helper()
	first := h.connect(room, names[0], dsproto.RoleCreate)
	first.create()
	ms := []*member{first}
	for _, n := range names[1:] {
		j := h.connect(room, n, dsproto.RoleJoin)
		j.knock(nil)
		ms = append(ms, j)
	}
	if len(names) > 1 {
		first.add(len(names) - 1)
		for _, j := range ms[1:] {
			j.join()
		}
	}
	for _, m := range ms {
		eventually(h.t, m.name+" admitted", func() string {
			if !h.admitted(room, m.name) {
				return "not admitted"
			}
			return ""
		})
	}
	return ms
}

func sameEpoch(t testing.TB, ms ...*member) {
	t.Helper()
	for _, m := range ms[1:] {
		if m.group.Epoch() != ms[0].group.Epoch() || !bytes.Equal(m.group.EpochAuthenticator(), ms[0].group.EpochAuthenticator()) {
			t.Fatalf("%s (epoch %d) and %s (epoch %d) disagree", m.name, m.group.Epoch(), ms[0].name, ms[0].group.Epoch())
		}
	}
}

func hasType(ms []dsproto.Message, ts ...dsproto.Type) error {
	for _, m := range ms {
		for _, t := range ts {
			if m.Type() == t {
				return fmt.Errorf("received %v", t)
			}
		}
	}
	return nil
}

var _ = errors.Is

// addKeyPackages commits the Add of the given KeyPackages (as received in
// JoinRequests) and expects it accepted.
func addKeyPackages(t testing.TB, m *member, kps ...[]byte) {
	t.Helper()
	var parsed []*mls.KeyPackage
	for _, b := range kps {
		kp, err := mls.ParseKeyPackage(b)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, kp)
	}
	m.commit(mls.CommitOptions{Add: parsed}, true)
	for range kps {
		expect[*dsproto.LobbyGone](m.c, dsproto.TypeJoinRequest)
	}
}
