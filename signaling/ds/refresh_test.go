package ds_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"conclave/e2ee/dsproto"
	"conclave/signaling/ds"
	"conclave/signaling/token"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRefreshedTokenResumesAfterTheFirstExpired is the meeting that outlives
// its first access token (docs/e2ee-protocol.md, "Token refresh"): alice
// dials with a token living about 2 s, the DS sends her fresh tokens for
// the same claims, the first token expires, her WebSocket is cut, and she
// comes back with the refreshed token and resumes her leaf, while the
// expired token is refused. No token ever reaches the server's log.
func TestRefreshedTokenResumesAfterTheFirstExpired(t *testing.T) {
	issuer, verifier := token.NewIssuer("conclave", tokenSecret), token.NewVerifier("conclave", tokenSecret)
	logs := &syncBuffer{}
	cfg := ds.Config{
		LeaveGrace:      timeout,
		RefreshInterval: 100 * time.Millisecond,
		// As media.go wires it, but the refreshed tokens outlive the
		// first ones by far, so that expiry (whole seconds in a JWT)
		// tells them apart.
		Refresh: func(c token.Claims) (string, error) { return issuer.Issue(c, time.Minute) },
	}
	h := newHarnessLog(t, cfg, issuer, verifier, nil, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	h.ttl = 2 * time.Second
	ms := h.meeting(roomA, "alice", "bob")
	alice, bob := ms[0], ms[1]
	first := alice.c.token
	seen := []string{first, bob.c.token}

	fresh := alice.c.refreshed()
	seen = append(seen, fresh)
	if fresh == first {
		t.Fatal("the refreshed token is the first token")
	}
	claims, err := verifier.Verify(fresh, time.Now())
	if err != nil {
		t.Fatalf("the refreshed token does not verify: %v", err)
	}
	want := token.Claims{Identity: "alice", Name: "alice", Room: roomA, CanPublish: true, CanSubscribe: true}
	got := *claims
	got.ExpiresAt = time.Time{}
	if got != want {
		t.Fatalf("refreshed claims %+v, want %+v", got, want)
	}
	// Refreshes keep coming, each a valid token for the same claims.
	next := alice.c.refreshed()
	seen = append(seen, next)
	if c, err := verifier.Verify(next, time.Now()); err != nil || c.Identity != "alice" || c.Room != roomA {
		t.Fatalf("second refresh: %+v, %v", c, err)
	}

	eventually(t, "the first token expires", func() string {
		if _, err := verifier.Verify(first, time.Now()); err == nil {
			return "still valid"
		}
		return ""
	})
	alice.c.ws.Close()
	<-alice.c.done

	t.Run("expired token refused", func(t *testing.T) {
		ws, resp, err := websocket.DefaultDialer.Dial(h.url(first), nil)
		if err == nil {
			ws.Close()
			t.Fatal("the expired token was accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("dial with the expired token: %v, %v; want 401", err, resp)
		}
	})

	t.Run("refreshed token resumes", func(t *testing.T) {
		c := h.dialToken(fresh, "alice")
		c.send(&dsproto.Hello{HaveEpoch: alice.group.Epoch(), GroupID: alice.group.GroupID(), Leaf: alice.group.OwnLeaf()})
		sh := expect[*dsproto.ServerHello](c)
		if sh.Role != dsproto.RoleResume || sh.Epoch != alice.group.Epoch() {
			t.Fatalf("role %d epoch %d, want resume at %d", sh.Role, sh.Epoch, alice.group.Epoch())
		}
		alice.c = c
		if !h.admitted(roomA, "alice") {
			t.Fatal("alice not admitted after resuming")
		}
		// alice is the same member: bob's chat reaches her, and the DS
		// proposed no Remove of her leaf.
		msg, err := bob.group.Seal([]byte("still here?"), nil)
		if err != nil {
			t.Fatal(err)
		}
		bob.c.send(&dsproto.Application{Message: msg})
		rel := expect[*dsproto.RelayedApplication](alice.c)
		if rec, err := alice.group.ProcessMessage(rel.Message); err != nil || string(rec.ApplicationData) != "still here?" {
			t.Fatalf("alice opens bob's chat: %v", err)
		}
		if err := hasType(bob.c.barrier(), dsproto.TypeHandshake); err != nil {
			t.Fatalf("bob: %v", err)
		}
		// The resumed connection is refreshed too.
		seen = append(seen, alice.c.refreshed())
	})

	out := logs.String()
	if out == "" {
		t.Fatal("the server logged nothing; the check below would be vacuous")
	}
	for i, tok := range seen {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(out, tok) || strings.Contains(out, sig) {
			t.Errorf("token %d appears in the server's log", i)
		}
	}
}

// TestNoRefreshWithoutIssuer: a DS configured without Refresh sends no
// RefreshToken (the harness default, on which the other tests rely).
func TestNoRefreshWithoutIssuer(t *testing.T) {
	h := newHarness(t, ds.Config{RefreshInterval: 10 * time.Millisecond})
	alice := h.meeting(roomA, "alice")[0]
	// Several intervals go by while the DS answers a barrier.
	deadline := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(deadline) {
		alice.c.barrier()
	}
	select {
	case <-alice.c.tokens:
		t.Fatal("a RefreshToken without an issuer")
	default:
	}
}
