package session

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// testToken looks like a JWT (three base64url parts); the session must pass
// it on byte for byte.
const testToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJQX2EifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"

// TestTokenRefreshedSurfaces: a RefreshToken from the DS comes out as one
// TokenRefreshed event carrying the token unchanged, in whatever phase the
// session is (docs/e2ee-protocol.md, "Token refresh"), sends nothing,
// changes nothing in the group, is neither kept in the saved state nor
// logged; a malformed one is a protocol error with no event.
func TestTokenRefreshedSurfaces(t *testing.T) {
	var logs bytes.Buffer
	n := newNetwork(t)
	session := func(name string, secret []byte) *Session {
		s, err := New(Config{
			Identity: Identity{Participant: "P_" + name, DisplayName: name, Kind: KindBot},
			RoomID:   testRoomID, LinkSecret: secret,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fresh := session("fresh", n.secret) // Start not called
	a := n.attach("a", session("a", n.secret))
	n.run()
	b := n.attach("b", session("b", n.secret))
	n.settle(30*time.Second, converged(a, b))
	k := n.attach("k", session("k", nil))
	n.run()
	if !k.status.Waiting {
		t.Fatal("the knocker is not waiting in the lobby")
	}
	hello := session("hello", n.secret)
	hello.Start(n.now) // Hello sent, no answer yet

	msg := encodeIn(inRefreshToken{token: testToken})
	for _, tc := range []struct {
		name string
		s    *Session
	}{
		{"before start", fresh},
		{"hello sent", hello},
		{"in the lobby", k.s},
		{"creator", a.s},
		{"member", b.s},
	} {
		t.Run(tc.name, func(t *testing.T) {
			epoch, code, member := tc.s.Epoch(), tc.s.SecurityCode(), tc.s.Member()
			out, err := tc.s.Handle(msg, n.now)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			var got []TokenRefreshed
			for _, ev := range out.Events {
				if tr, ok := ev.(TokenRefreshed); ok {
					got = append(got, tr)
				}
			}
			if len(got) != 1 || got[0].Token != testToken {
				t.Fatalf("events %+v, want one TokenRefreshed with the token", out.Events)
			}
			if len(out.Send) != 0 {
				t.Fatalf("sent %d messages in answer to a token", len(out.Send))
			}
			if tc.s.Epoch() != epoch || tc.s.SecurityCode() != code || tc.s.Member() != member {
				t.Fatal("a token changed the session's group state")
			}
			if member {
				st, err := tc.s.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(st, []byte(testToken)) || bytes.Contains(st, []byte("c2lnbmF0dXJlLW9mLXRoZS10b2tlbg")) {
					t.Fatal("the saved state holds the token")
				}
			}
		})
	}
	t.Run("malformed", func(t *testing.T) {
		for name, raw := range map[string][]byte{
			"empty":     {1, 73, 0},
			"space":     {1, 73, 3, 'a', ' ', 'b'},
			"truncated": {1, 73, 5, 'a'},
		} {
			out, err := b.s.Handle(raw, n.now)
			if !errors.Is(err, ErrProtocol) {
				t.Errorf("%s: Handle = %v, want ErrProtocol", name, err)
			}
			for _, ev := range out.Events {
				if _, ok := ev.(TokenRefreshed); ok {
					t.Errorf("%s: a TokenRefreshed from a malformed message", name)
				}
			}
		}
	})
	// The meeting goes on, tokens or not.
	c := n.join("c", n.secret)
	n.settle(30*time.Second, converged(a, b, c))
	noRejections(t, a, b, c)
	if logs.Len() == 0 {
		t.Fatal("the sessions logged nothing; the check below would be vacuous")
	}
	if strings.Contains(logs.String(), "c2lnbmF0dXJlLW9mLXRoZS10b2tlbg") {
		t.Fatal("a session logged the token")
	}
}
