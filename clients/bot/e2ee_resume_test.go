package bot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"conclave/e2ee/dsproto"
	"conclave/e2ee/session"
	"conclave/signaling/ds"
	"conclave/signaling/token"
)

// dsRecorder serves a real delivery service and remembers, per identity,
// the token of each /e2ee request and the connection it was upgraded on,
// so that a test can cut a WebSocket as a network would.
type dsRecorder struct {
	srv    *ds.Server
	verify func(string) (*token.Claims, error)

	mu     sync.Mutex
	tokens map[string][]string
	conns  map[string][]net.Conn
}

type hijackRecorder struct {
	http.ResponseWriter
	onConn func(net.Conn)
}

func (h hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := h.ResponseWriter.(http.Hijacker).Hijack()
	if err == nil {
		h.onConn(c)
	}
	return c, rw, err
}

func (d *dsRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok := token.FromRequest(r)
	claims, err := d.verify(tok)
	if err != nil {
		d.srv.ServeHTTP(w, r) // refused there
		return
	}
	id := claims.Identity
	d.mu.Lock()
	d.tokens[id] = append(d.tokens[id], tok)
	d.mu.Unlock()
	d.srv.ServeHTTP(hijackRecorder{w, func(c net.Conn) {
		d.mu.Lock()
		d.conns[id] = append(d.conns[id], c)
		d.mu.Unlock()
	}}, r)
}

func (d *dsRecorder) dials(id string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.tokens[id]...)
}

// cut closes id's latest connection under the WebSocket.
func (d *dsRecorder) cut(t *testing.T, id string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	cs := d.conns[id]
	if len(cs) == 0 {
		t.Fatalf("no connection of %s to cut", id)
	}
	cs[len(cs)-1].Close()
}

// waitFor polls cond until it returns "" or the deadline passes.
func waitFor(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestE2EEReconnectsWithRefreshedToken: a bot's /e2ee WebSocket is cut after
// the token it dialed with expired. With the DS refreshing tokens, the bot
// redials with the latest one and resumes its leaf (same epoch, chat flows
// both ways); without refreshes, the expired token is refused and the bot's
// E2EE ends with ErrUnauthorized instead of hanging.
func TestE2EEReconnectsWithRefreshedToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refresh bool
	}{
		{"refreshed token resumes", true},
		{"expired token refused", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := bytes.Repeat([]byte{0x42}, 32)
			issuer, verifier := token.NewIssuer("conclave", secret), token.NewVerifier("conclave", secret)
			verify := func(tok string) (*token.Claims, error) { return verifier.Verify(tok, time.Now()) }
			cfg := ds.Config{RefreshInterval: 100 * time.Millisecond}
			if tc.refresh {
				// Refreshed tokens outlive the first ones by far, so that
				// expiry (whole seconds in a JWT) tells them apart.
				cfg.Refresh = func(c token.Claims) (string, error) { return issuer.Issue(c, time.Minute) }
			}
			var rec *dsRecorder
			signal := startDS(t, cfg, verify, func(srv *ds.Server) http.Handler {
				rec = &dsRecorder{srv: srv, verify: verify, tokens: map[string][]string{}, conns: map[string][]net.Conn{}}
				return rec
			})

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			link := session.NewLinkSecret()
			join := func(id string) (*E2EE, string) {
				tok, err := issuer.Issue(token.Claims{Identity: id, Name: id, Room: "room-key", CanPublish: true, CanSubscribe: true}, 2*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				e, err := DialE2EE(ctx, signal, tok, E2EEConfig{RoomID: "room1", Secret: link, Participant: id, Name: id})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(e.Close)
				if err := e.WaitJoined(ctx); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				return e, tok
			}
			alice, first := join("alice")
			bob, _ := join("bob")
			waitFor(t, "one epoch for both", func() string {
				if alice.EpochNumber() != bob.EpochNumber() || alice.SecurityCode() != bob.SecurityCode() || len(alice.Roster()) != 2 {
					return "alice and bob disagree"
				}
				return ""
			})
			epoch := alice.EpochNumber()
			if tc.refresh {
				waitFor(t, "a refreshed token", func() string {
					if alice.link.currentToken() == first {
						return "alice still holds the first token"
					}
					return ""
				})
			}
			waitFor(t, "the first token expires", func() string {
				if _, err := verify(first); err == nil {
					return "still valid"
				}
				return ""
			})
			rec.cut(t, "alice")

			if !tc.refresh {
				select {
				case <-alice.Done():
				case <-ctx.Done():
					t.Fatal("alice's E2EE did not end")
				}
				if err := alice.Err(); !errors.Is(err, ErrE2EEClosed) || !errors.Is(err, ErrUnauthorized) {
					t.Fatalf("alice ended with %v, want ErrE2EEClosed and ErrUnauthorized", err)
				}
				if n := len(rec.dials("alice")); n != 1 {
					t.Fatalf("%d accepted dials of alice, want only the first", n)
				}
				return
			}

			waitFor(t, "alice resumes", func() string {
				if alice.Reconnects() != 1 {
					return "not reconnected"
				}
				if d := rec.dials("alice"); len(d) != 2 || d[1] == first {
					return "the second dial did not use a refreshed token"
				}
				if !rec.srv.Admitted("room-key", "alice") {
					return "alice not admitted"
				}
				return ""
			})
			if err := bob.SendChat("still there?"); err != nil {
				t.Fatal(err)
			}
			if err := alice.SendChat("yes"); err != nil {
				t.Fatal(err)
			}
			has := func(e *E2EE, text string) func() string {
				return func() string {
					for _, c := range e.Chats() {
						if c.Text == text {
							return ""
						}
					}
					return "no chat " + text
				}
			}
			waitFor(t, "bob's chat reaches alice", has(alice, "still there?"))
			waitFor(t, "alice's chat reaches bob", has(bob, "yes"))
			if alice.EpochNumber() != epoch || bob.EpochNumber() != epoch || alice.Err() != nil {
				t.Fatalf("epochs %d and %d after the resume, want %d (err %v): alice joined afresh", alice.EpochNumber(), bob.EpochNumber(), epoch, alice.Err())
			}
		})
	}
}

// TestE2EEReplacedDoesNotReconnect: a bot whose connection the DS replaced
// by a newer one of the same identity (Error{replaced}) ends instead of
// redialling, or two clients of one identity would take turns forever.
func TestE2EEReplacedDoesNotReconnect(t *testing.T) {
	secret := bytes.Repeat([]byte{0x42}, 32)
	issuer, verifier := token.NewIssuer("conclave", secret), token.NewVerifier("conclave", secret)
	verify := func(tok string) (*token.Claims, error) { return verifier.Verify(tok, time.Now()) }
	signal := startDS(t, ds.Config{}, verify, func(srv *ds.Server) http.Handler { return srv })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := issuer.Issue(token.Claims{Identity: "alice", Name: "alice", Room: "room-key", CanPublish: true, CanSubscribe: true}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	link := session.NewLinkSecret()
	dial := func() *E2EE {
		e, err := DialE2EE(ctx, signal, tok, E2EEConfig{RoomID: "room1", Secret: link, Participant: "alice", Name: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		return e
	}
	first := dial()
	if err := first.WaitJoined(ctx); err != nil {
		t.Fatal(err)
	}
	dial()
	select {
	case <-first.Done():
	case <-ctx.Done():
		t.Fatal("the replaced connection did not end")
	}
	if err := first.Err(); !errors.Is(err, ErrE2EEClosed) || first.Reconnects() != 0 {
		t.Fatalf("replaced: err %v, %d reconnects; want ErrE2EEClosed and none", err, first.Reconnects())
	}
}

func TestResumableE2EE(t *testing.T) {
	for _, tc := range []struct {
		name string
		code uint16
		want bool
	}{
		{"network drop", 0, true},
		{"not allowed", dsproto.CodeNotAllowed, true},
		{"slow", dsproto.CodeSlow, true},
		{"internal", dsproto.CodeInternal, true},
		{"malformed", dsproto.CodeMalformed, false},
		{"replaced", dsproto.CodeReplaced, false},
		{"limit", dsproto.CodeLimit, false},
		{"shutdown", dsproto.CodeShutdown, false},
		{"removed", dsproto.CodeRemoved, false},
		{"ended", dsproto.CodeEnded, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resumableE2EE(tc.code); got != tc.want {
				t.Fatalf("resumableE2EE(%d) = %v, want %v", tc.code, got, tc.want)
			}
		})
	}
}

// startDS runs a delivery service with cfg behind an HTTP test server, its
// /e2ee route served by what handler makes of it, and returns the route's
// WebSocket URL. The service is shut down, then the server closed, when
// the test ends.
func startDS(t *testing.T, cfg ds.Config, verify ds.Verifier, handler func(*ds.Server) http.Handler) string {
	t.Helper()
	key, err := ds.LoadOrCreateKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ds.New(cfg, key, verify, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/e2ee", handler(srv))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("ds shutdown: %v", err)
		}
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}
