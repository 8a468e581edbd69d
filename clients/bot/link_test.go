package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const (
	testRoom   = "AAECAwQFBgcICQoLDA0ODw" // 16 bytes 0..15
	testSecret = "EBESExQVFhcYGRobHB0eHw" // 16 bytes 16..31
)

func TestParseLink(t *testing.T) {
	cases := []struct {
		name, link   string
		ok, noPhones bool
	}{
		{"valid", "http://127.0.0.1:8080/m/" + testRoom + "#" + testSecret, true, false},
		{"valid https", "https://meet.example.org/m/" + testRoom + "#" + testSecret, true, false},
		{"no phones", "http://127.0.0.1:8080/m/" + testRoom + "#" + testSecret + NoPhonesSuffix, true, true},
		{"suffix twice", "http://h/m/" + testRoom + "#" + testSecret + NoPhonesSuffix + NoPhonesSuffix, false, false},
		{"unknown suffix", "http://h/m/" + testRoom + "#" + testSecret + "~phones", false, false},
		{"suffix only", "http://h/m/" + testRoom + "#" + NoPhonesSuffix, false, false},
		{"suffix before secret", "http://h/m/" + testRoom + "#" + NoPhonesSuffix + testSecret, false, false},
		{"ftp scheme", "ftp://127.0.0.1/m/" + testRoom + "#" + testSecret, false, false},
		{"no host", "http:///m/" + testRoom + "#" + testSecret, false, false},
		{"wrong path", "http://h/x/" + testRoom + "#" + testSecret, false, false},
		{"short room", "http://h/m/" + testRoom[:21] + "#" + testSecret, false, false},
		{"room not base64url", "http://h/m/" + strings.Repeat("*", 22) + "#" + testSecret, false, false},
		{"no secret", "http://h/m/" + testRoom, false, false},
		{"short secret", "http://h/m/" + testRoom + "#" + testSecret[:20], false, false},
		{"long secret", "http://h/m/" + testRoom + "#" + testSecret + "AAAA", false, false},
		{"trailing path", "http://h/m/" + testRoom + "/x#" + testSecret, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ParseLink(tc.link)
			if !tc.ok {
				if !errors.Is(err, ErrBadLink) {
					t.Fatalf("ParseLink: %v, want %v", err, ErrBadLink)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLink: %v", err)
			}
			if l.RoomID != testRoom || len(l.Secret) != 16 || l.Secret[0] != 16 || l.Secret[15] != 31 {
				t.Errorf("parsed %q %x", l.RoomID, l.Secret)
			}
			if l.Base.Path != "" || l.Base.Fragment != "" {
				t.Errorf("base %v keeps more than the origin", l.Base)
			}
			if l.ForbidPhones != tc.noPhones {
				t.Errorf("ForbidPhones %v, want %v", l.ForbidPhones, tc.noPhones)
			}
		})
	}
}

// TestLinkRedacted checks that logging a link or credentials never writes
// the room ID, the secret or the token.
func TestLinkRedacted(t *testing.T) {
	l, err := ParseLink("http://127.0.0.1:8080/m/" + testRoom + "#" + testSecret)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("x", "link", l, "creds", Credentials{URL: "ws://h", Token: "secret-token", Identity: "P_X"})
	for _, s := range []string{testRoom, testSecret, "secret-token"} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("log %q contains %q", buf.String(), s)
		}
	}
}

func TestRequestJoin(t *testing.T) {
	var got map[string]string
	status, body := http.StatusOK, `{"token":"tok","url":"ws://x:1","room":"key","identity":"P_A"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/join" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)

	cases := []struct {
		name    string
		status  int
		body    string
		wantErr error
		check   func(t *testing.T, c Credentials)
	}{
		{"ok", 200, `{"token":"tok","url":"ws://x:1","room":"key","identity":"P_A"}`, nil, func(t *testing.T, c Credentials) {
			if c.Token != "tok" || c.URL != "ws://x:1" || c.Room != "key" || c.Identity != "P_A" {
				t.Errorf("credentials %+v", c)
			}
		}},
		{"same origin", 200, `{"token":"tok"}`, nil, func(t *testing.T, c Credentials) {
			if c.URL != "ws://"+base.Host {
				t.Errorf("url %q, want the link's origin as ws", c.URL)
			}
		}},
		{"unknown room", 404, `{"error":"no such meeting"}`, ErrNoSuchMeeting, nil},
		{"rate limited", 429, `{}`, ErrRateLimited, nil},
		{"server error", 500, `{}`, ErrJoinRefused, nil},
		{"no token", 200, `{"url":"ws://x"}`, nil, nil},
		{"oversized", 200, `{"token":"` + strings.Repeat("a", maxJoinResponse) + `"}`, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body = tc.status, tc.body
			c, err := RequestJoin(context.Background(), nil, base, testRoom, "Ann", "bot")
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
			case tc.check == nil:
				if err == nil {
					t.Fatalf("accepted %q", tc.body)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
			}
			if got["room"] != testRoom || got["name"] != "Ann" || got["kind"] != "bot" {
				t.Errorf("request body %v", got)
			}
		})
	}
}
