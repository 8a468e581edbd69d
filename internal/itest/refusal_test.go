package itest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"conclave/clients/bot"
	"conclave/e2ee/sframe"
	"conclave/signaling/token"
)

// TestUnencryptedTrackRefused checks interfaces point 5: a track declaring
// encryption NONE is refused with a clear error to the publisher.
func TestUnencryptedTrackRefused(t *testing.T) {
	s := startServer(t)
	link := s.newMeeting()
	none := livekit.Encryption_NONE
	cfg := s.config("plaintext")
	cfg.Encryption = &none
	b, err := bot.Join(context.Background(), link, cfg)
	if err == nil {
		b.Close()
		t.Fatal("a bot publishing unencrypted tracks joined; want its tracks refused")
	}
	if !errors.Is(err, bot.ErrTrackRefused) {
		t.Fatalf("join error %v, want %v", err, bot.ErrTrackRefused)
	}
	t.Logf("refusal: %v", err)

	// The same meeting still admits an encrypting participant.
	s.join(link, s.config("encrypted"))
}

// wsURL is the signal URL of the test server.
func (s *server) wsURL() string { return "ws" + strings.TrimPrefix(s.base, "http") }

// roomKey asks /api/join for a token to the link's meeting and returns the
// room key it names, as the server computes it.
func (s *server) credentials(link string) bot.Credentials {
	s.t.Helper()
	l, err := bot.ParseLink(link)
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := bot.RequestJoin(context.Background(), nil, l.Base, l.RoomID, "probe", "bot")
	if err != nil {
		s.t.Fatalf("join: %v", err)
	}
	return c
}

// TestBadTokensRefused checks that the signal connection refuses tokens that
// are garbage, expired or signed by another key, and that a valid token for
// another meeting admits only to that meeting.
func TestBadTokensRefused(t *testing.T) {
	s := startServer(t)
	link := s.newMeeting()
	room := s.credentials(link).Room
	claims := token.Claims{Identity: "P_TESTTESTTEST", Name: "intruder", Room: room, Metadata: `{"kind":"bot"}`,
		CanPublish: true, CanSubscribe: true}

	otherKey := make([]byte, 32)
	if _, err := rand.Read(otherKey); err != nil {
		t.Fatal(err)
	}
	mustIssue := func(iss *token.Issuer, c token.Claims, ttl time.Duration) string {
		tok, err := iss.Issue(c, ttl)
		if err != nil {
			t.Fatalf("issue: %v", err)
		}
		return tok
	}
	valid := mustIssue(s.issuer, claims, time.Minute)
	// Flip one character of the signature.
	tampered := valid[:len(valid)-2] + map[bool]string{true: "A", false: "B"}[valid[len(valid)-2] != 'A'] + valid[len(valid)-1:]

	cases := []struct {
		name, token string
	}{
		{"empty", ""},
		{"garbage", "not-a-token"},
		{"signed by another key", mustIssue(token.NewIssuer(apiKey, otherKey), claims, time.Minute)},
		{"another API key name", mustIssue(token.NewIssuer("someone-else", s.key), claims, time.Minute)},
		{"expired", signedToken(t, s.key, claims, time.Now().Add(-time.Minute))},
		{"tampered signature", tampered},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.config("intruder")
			cfg.Cipher = mustCipher(t, link)
			b, err := bot.Start(context.Background(), s.wsURL(), tc.token, cfg)
			if err == nil {
				b.Close()
				t.Fatal("connected with a bad token")
			}
			if !errors.Is(err, bot.ErrUnauthorized) {
				t.Fatalf("error %v, want %v", err, bot.ErrUnauthorized)
			}
		})
	}

	// Control: the same hand-signed token, unexpired, is accepted, so the
	// "expired" case fails for its expiry alone.
	t.Run("hand-signed control", func(t *testing.T) {
		cfg := s.config("control")
		cfg.Cipher = mustCipher(t, link)
		cfg.NoAudio, cfg.NoVideo = true, true
		c := claims
		c.Identity = "P_CONTROLCONTR"
		b, err := bot.Start(context.Background(), s.wsURL(), signedToken(t, s.key, c, time.Now().Add(time.Minute)), cfg)
		if err != nil {
			t.Fatalf("unexpired hand-signed token refused: %v", err)
		}
		b.Leave()
	})

	t.Run("unknown meeting", func(t *testing.T) {
		l, err := bot.ParseLink(link)
		if err != nil {
			t.Fatal(err)
		}
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			t.Fatal(err)
		}
		_, err = bot.RequestJoin(context.Background(), nil, l.Base, base64.RawURLEncoding.EncodeToString(id[:]), "guesser", "bot")
		if !errors.Is(err, bot.ErrNoSuchMeeting) {
			t.Fatalf("join of an unknown meeting: %v, want %v", err, bot.ErrNoSuchMeeting)
		}
	})

	t.Run("another meeting's token", func(t *testing.T) {
		member := s.join(s.newMeeting(), s.config("member"))
		other := s.newMeeting()
		outsider := s.join(other, s.config("outsider"))
		// A second participant of the other meeting proves that the
		// outsider receives participant updates at all.
		companion := s.join(other, s.config("companion"))
		waitFor(t, 10*time.Second, "the outsider to see its companion", func() bool {
			for _, p := range outsider.Participants() {
				if p.Identity == identity(companion) {
					return true
				}
			}
			return false
		})
		if r := outsider.Report(); r.ParticipantsSeen != 1 {
			t.Errorf("outsider saw %d participants, want only its companion", r.ParticipantsSeen)
		}
		if r := member.Report(); r.ParticipantsSeen != 0 || len(r.Tracks) != 0 {
			t.Errorf("member of the first meeting saw %d participants and %d tracks from another meeting",
				r.ParticipantsSeen, len(r.Tracks))
		}
	})
}

// signedToken signs, with key, a LiveKit access token (RFC 7519 JWT, HS256)
// for claims expiring at exp. The token package cannot mint an expired one:
// it always sets a future expiry.
func signedToken(t *testing.T, key []byte, c token.Claims, exp time.Time) string {
	t.Helper()
	now := time.Now()
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	body, err := json.Marshal(map[string]any{
		"iss": apiKey, "sub": c.Identity, "name": c.Name, "metadata": c.Metadata,
		"iat": now.Add(-2 * time.Minute).Unix(), "nbf": now.Add(-2 * time.Minute).Unix(), "exp": exp.Unix(),
		"video": map[string]any{"roomJoin": true, "room": c.Room},
	})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// mustCipher returns a FrameCipher with a fixed key, for bots started with
// a token (bot.Start), which join no MLS group; these tests are about
// tokens, not keys.
func mustCipher(t *testing.T, _ string) bot.FrameCipher {
	t.Helper()
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	s, err := sframe.NewSender(sframe.AES128GCMSHA256_128, 1, key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sframe.NewReceiver(sframe.AES128GCMSHA256_128)
	if err != nil {
		t.Fatal(err)
	}
	return bot.NewSFrameCipher(s, r)
}
