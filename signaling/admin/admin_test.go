package admin

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"conclave/signaling/admin/totp"
	"conclave/signaling/audit"
	"conclave/signaling/cluster"
)

var fastArgon = Argon2Params{Time: 1, MemoryKiB: 1024, Threads: 1}

const testRoom = "0123456789abcdef0123456789abcdef"

// fakePowers records what the API asked of the cluster.
type fakePowers struct {
	mu      sync.Mutex
	calls   []string
	started time.Time
}

func (f *fakePowers) note(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakePowers) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakePowers) Meetings(context.Context) ([]cluster.Meeting, []cluster.NodeID, error) {
	f.note("meetings")
	return []cluster.Meeting{{Room: testRoom, Node: "n1", Participants: 3, StartedAt: f.started}}, nil, nil
}

func (f *fakePowers) EndMeeting(_ context.Context, room cluster.RoomKey) (cluster.NodeID, error) {
	f.note("end " + string(room))
	if room != testRoom {
		return "", cluster.ErrNoSuchRoom
	}
	return "n1", nil
}

func (f *fakePowers) RemoveParticipant(_ context.Context, room cluster.RoomKey, id string) (cluster.NodeID, error) {
	f.note("remove " + string(room) + " " + id)
	return "n1", nil
}

func (f *fakePowers) Nodes(context.Context) ([]cluster.Node, error) {
	f.note("nodes")
	return []cluster.Node{{ID: "n1", URL: "http://n1"}}, nil
}

func (f *fakePowers) Drain(_ context.Context, id cluster.NodeID, d bool) error {
	f.note(fmt.Sprintf("drain %s %v", id, d))
	return nil
}

type harness struct {
	db     *sql.DB
	dir    string
	creds  *Credentials
	audit  *audit.Log
	powers *fakePowers
	srv    *Server
	h      http.Handler
	clock  time.Time
	mu     sync.Mutex
}

func (h *harness) now() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.clock
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.clock = h.clock.Add(d)
	h.mu.Unlock()
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir(), clock: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	db, err := OpenDB(context.Background(), h.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h.db = db
	if h.creds, err = NewCredentials(context.Background(), db, fastArgon, h.now); err != nil {
		t.Fatal(err)
	}
	if h.audit, err = audit.Open(context.Background(), db, nil, h.now); err != nil {
		t.Fatal(err)
	}
	h.powers = &fakePowers{started: h.clock.Add(-90 * time.Second)}
	h.srv, err = NewServer(Options{Credentials: h.creds, Audit: h.audit, Powers: h.powers, Now: h.now,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "# metrics\n") })})
	if err != nil {
		t.Fatal(err)
	}
	h.h = h.srv.Handler()
	return h
}

func (h *harness) key(t *testing.T, scopes ...Scope) string {
	t.Helper()
	k, err := h.creds.CreateKey(context.Background(), "test", scopes, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return k.Secret
}

func (h *harness) do(method, path, token string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "198.51.100.7:4000"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func (h *harness) entries(t *testing.T) []audit.Entry {
	t.Helper()
	es, err := h.audit.List(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestAPIKeys(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	k, err := h.creds.CreateKey(ctx, "ci", []Scope{ScopeRead}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.creds.AuthenticateKey(ctx, k.Secret)
	if err != nil || got.ID != k.ID || !got.HasScope(ScopeRead) || got.HasScope(ScopeMeetings) {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	// One character of the secret changed: one in the middle, since the
	// last may carry unused bits, and never to itself (the old test set the
	// last to "A" and so passed the key itself in 1 of 64 runs).
	wrong := []byte(k.Secret)
	if i := len(wrong) - 5; wrong[i] == 'A' {
		wrong[i] = 'B'
	} else {
		wrong[i] = 'A'
	}
	bad := map[string]string{
		"empty":         "",
		"no prefix":     strings.TrimPrefix(k.Secret, "ck_"),
		"wrong secret":  string(wrong),
		"unknown id":    "ck_0000000000000000_" + k.Secret[20:],
		"truncated":     k.Secret[:20],
		"huge":          "ck_" + strings.Repeat("a", 500),
		"secret as key": k.Secret[20:],
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := h.creds.AuthenticateKey(ctx, s); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("got %v, want ErrUnauthorized", err)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		h.advance(time.Hour)
		if _, err := h.creds.AuthenticateKey(ctx, k.Secret); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("expired key: %v", err)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		k2, _ := h.creds.CreateKey(ctx, "", []Scope{ScopeRead}, time.Hour)
		if err := h.creds.RevokeKey(ctx, k2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := h.creds.AuthenticateKey(ctx, k2.Secret); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("revoked key: %v", err)
		}
		if err := h.creds.RevokeKey(ctx, k2.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke twice: %v", err)
		}
	})
	t.Run("stored hashed", func(t *testing.T) {
		h.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		b, err := os.ReadFile(filepath.Join(h.dir, dbFile))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(k.Secret[20:])) {
			t.Fatal("the key's secret is stored in the database")
		}
	})
	if _, err := ParseScopes("read,root"); err == nil {
		t.Fatal("unknown scope accepted")
	}
}

func TestPasswordAndTOTPLogin(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	en, err := h.creds.AddAdmin(ctx, "ada", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.creds.AddAdmin(ctx, "ada", "another long password"); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate admin: %v", err)
	}
	if _, err := h.creds.AddAdmin(ctx, "bob", "short"); err == nil {
		t.Fatal("short password accepted")
	}
	secret, err := totp.DecodeSecret(en.Secret)
	if err != nil {
		t.Fatal(err)
	}
	code := totp.Code(secret, h.now())
	cases := []struct {
		name, user, pw, code string
	}{
		{"wrong password", "ada", "wrong horse battery", code},
		{"wrong code", "ada", "correct horse battery", code[:5] + strconv.Itoa(int(code[5]-'0'+1)%10)},
		{"no code", "ada", "correct horse battery", ""},
		{"unknown admin", "eve", "correct horse battery", code},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.creds.Login(ctx, tc.user, tc.pw, tc.code); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("got %v", err)
			}
		})
	}
	if err := h.creds.Login(ctx, "ada", "correct horse battery", code); err != nil {
		t.Fatalf("good login: %v", err)
	}
	if err := h.creds.Login(ctx, "ada", "correct horse battery", code); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("replayed code: %v", err)
	}
	h.advance(totp.Step)
	if err := h.creds.Login(ctx, "ada", "correct horse battery", totp.Code(secret, h.now())); err != nil {
		t.Fatalf("next code: %v", err)
	}
	var stored string
	h.db.QueryRow(`SELECT password_hash FROM admins WHERE name = 'ada'`).Scan(&stored)
	if !strings.HasPrefix(stored, "argon2id$v=19$") || strings.Contains(stored, "horse") {
		t.Fatalf("stored password %q", stored)
	}
}

func TestAPIAuthenticationAndScopes(t *testing.T) {
	h := newHarness(t)
	reader := h.key(t, ScopeRead)
	cases := []struct {
		name, method, path, token string
		want                      int
	}{
		{"no credential", "GET", "/admin/v1/meetings", "", 401},
		{"garbage credential", "GET", "/admin/v1/meetings", "ck_nope", 401},
		{"unknown session", "GET", "/admin/v1/meetings", "cs_nope", 401},
		{"read lists meetings", "GET", "/admin/v1/meetings", reader, 200},
		{"read lists nodes", "GET", "/admin/v1/nodes", reader, 200},
		{"read cannot end", "POST", "/admin/v1/meetings/" + testRoom + "/end", reader, 403},
		{"read cannot drain", "POST", "/admin/v1/nodes/n1/drain", reader, 403},
		{"read cannot list keys", "GET", "/admin/v1/keys", reader, 403},
		{"read cannot read audit", "GET", "/admin/v1/audit", reader, 403},
		{"no way to add a participant", "POST", "/admin/v1/meetings/" + testRoom + "/participants", reader, 404},
		{"no way to join", "POST", "/admin/v1/meetings/" + testRoom + "/join", reader, 404},
		{"health is open", "GET", "/healthz", "", 200},
		{"metrics are open", "GET", "/metrics", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := h.do(tc.method, tc.path, tc.token, nil)
			if code != tc.want {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, code, body, tc.want)
			}
		})
	}
	for _, c := range h.powers.Calls() {
		if strings.HasPrefix(c, "end") || strings.HasPrefix(c, "drain") {
			t.Fatalf("a refused request reached the cluster: %v", h.powers.Calls())
		}
	}
}

func TestAPIPowersAreAudited(t *testing.T) {
	h := newHarness(t)
	all := h.key(t, AllScopes...)
	code, body := h.do("GET", "/admin/v1/meetings", all, nil)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var ml meetingsResponse
	if err := json.Unmarshal(body, &ml); err != nil {
		t.Fatal(err)
	}
	if len(ml.Meetings) != 1 || ml.Meetings[0].Participants != 3 || ml.Meetings[0].DurationSeconds != 90 {
		t.Fatalf("meetings %+v", ml)
	}
	steps := []struct {
		method, path string
		want         int
		call         string
	}{
		{"POST", "/admin/v1/meetings/" + testRoom + "/end", 200, "end " + testRoom},
		{"POST", "/admin/v1/meetings/ffffffffffffffffffffffffffffffff/end", 404, "end ffffffffffffffffffffffffffffffff"},
		{"POST", "/admin/v1/meetings/" + testRoom + "/participants/P_ABCDEFGHIJKL/remove", 200, "remove " + testRoom + " P_ABCDEFGHIJKL"},
		{"POST", "/admin/v1/meetings/not-a-key/end", 400, ""},
		{"POST", "/admin/v1/nodes/n1/drain", 200, "drain n1 true"},
		{"POST", "/admin/v1/nodes/n1/undrain", 200, "drain n1 false"},
	}
	for _, s := range steps {
		before := len(h.powers.Calls())
		code, body := h.do(s.method, s.path, all, nil)
		if code != s.want {
			t.Fatalf("%s %s: %d %s, want %d", s.method, s.path, code, body, s.want)
		}
		calls := h.powers.Calls()
		if s.call != "" && (len(calls) != before+1 || calls[before] != s.call) {
			t.Fatalf("%s: cluster calls %v, want %q", s.path, calls[before:], s.call)
		}
		if s.call == "" && len(calls) != before {
			t.Fatalf("%s: a malformed request reached the cluster", s.path)
		}
	}
	es := h.entries(t)
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action+" "+e.Target+" "+e.Result)
		if !strings.HasPrefix(e.Actor, "key:") || e.Source != "198.51.100.7" {
			t.Fatalf("entry %+v", e)
		}
	}
	want := []string{
		"meetings.list 1 meetings ok",
		"meeting.end " + testRoom + " started", "meeting.end " + testRoom + " ok",
		"meeting.end ffffffffffffffffffffffffffffffff started", "meeting.end ffffffffffffffffffffffffffffffff error: no such meeting running",
		"participant.remove " + testRoom + " started", "participant.remove " + testRoom + "/P_ABCDEFGHIJKL ok",
		"meeting.end not-a-key started", "meeting.end not-a-key error: room must be a room key (32 hex digits)",
		"node.drain n1 started", "node.drain n1 ok",
		"node.undrain n1 started", "node.undrain n1 ok",
	}
	if strings.Join(actions, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
	code, body = h.do("GET", "/admin/v1/audit/verify", all, nil)
	if code != 200 || !strings.Contains(string(body), `"entries":13`) {
		t.Fatalf("verify: %d %s", code, body)
	}
}

func TestAPINoActionWithoutAudit(t *testing.T) {
	h := newHarness(t)
	all := h.key(t, AllScopes...)
	// Make the audit log refuse writes (a full disk, a broken file).
	if _, err := h.db.Exec(`CREATE TRIGGER audit_log_full BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
		t.Fatal(err)
	}
	code, _ := h.do("POST", "/admin/v1/meetings/"+testRoom+"/end", all, nil)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("end with a broken audit log: %d", code)
	}
	if len(h.powers.Calls()) != 0 {
		t.Fatalf("action taken without an audit entry: %v", h.powers.Calls())
	}
}

func TestAPILoginSessionsAndRateLimit(t *testing.T) {
	h := newHarness(t)
	en, err := h.creds.AddAdmin(context.Background(), "ada", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := totp.DecodeSecret(en.Secret)
	code, body := h.do("POST", "/admin/v1/login", "", loginRequest{Name: "ada", Password: "correct horse battery", Code: totp.Code(secret, h.now())})
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	var lr loginResponse
	json.Unmarshal(body, &lr)
	if !strings.HasPrefix(lr.Token, "cs_") {
		t.Fatalf("session %q", lr.Token)
	}
	if code, _ := h.do("POST", "/admin/v1/nodes/n1/drain", lr.Token, nil); code != 200 {
		t.Fatalf("session drain: %d", code)
	}
	es := h.entries(t)
	if last := es[len(es)-1]; last.Actor != "admin:ada" || last.Action != "node.drain" {
		t.Fatalf("last entry %+v", last)
	}
	// Guessing: four more wrong attempts (the first login was one of five),
	// then the source is refused without the password being checked.
	for i := range 4 {
		code, _ := h.do("POST", "/admin/v1/login", "", loginRequest{Name: "ada", Password: "guess", Code: "000000"})
		if code != 401 {
			t.Fatalf("attempt %d: %d", i, code)
		}
	}
	code, _ = h.do("POST", "/admin/v1/login", "", loginRequest{Name: "ada", Password: "correct horse battery", Code: totp.Code(secret, h.now())})
	if code != http.StatusTooManyRequests {
		t.Fatalf("login after the burst: %d, want 429", code)
	}
	h.advance(16 * time.Minute)
	if code, _ := h.do("GET", "/admin/v1/nodes", lr.Token, nil); code != 401 {
		t.Fatalf("expired session: %d", code)
	}
	var refused, limited int
	for _, e := range h.entries(t) {
		if e.Action == "login" && e.Result == "refused" {
			refused++
		}
		if e.Action == "login" && e.Result == "rate limited" {
			limited++
		}
	}
	if refused != 4 || limited != 1 {
		t.Fatalf("audit: %d refused, %d rate limited logins", refused, limited)
	}
}

func TestAPIKeyCreationCannotEscalate(t *testing.T) {
	h := newHarness(t)
	keys := h.key(t, ScopeKeys, ScopeRead)
	code, body := h.do("POST", "/admin/v1/keys", keys, createKeyRequest{Label: "x", Scopes: "read,meetings", TTL: "1h"})
	if code != http.StatusForbidden {
		t.Fatalf("escalation: %d %s", code, body)
	}
	code, body = h.do("POST", "/admin/v1/keys", keys, createKeyRequest{Label: "x", Scopes: "read", TTL: "1h"})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var kv keyView
	json.Unmarshal(body, &kv)
	if code, _ := h.do("GET", "/admin/v1/meetings", kv.Key, nil); code != 200 {
		t.Fatalf("new key: %d", code)
	}
	if code, _ := h.do("POST", "/admin/v1/keys/"+kv.ID+"/revoke", keys, nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ := h.do("GET", "/admin/v1/meetings", kv.Key, nil); code != 401 {
		t.Fatalf("revoked key: %d", code)
	}
	// Listing never shows a secret.
	_, body = h.do("GET", "/admin/v1/keys", keys, nil)
	if strings.Contains(string(body), "ck_") {
		t.Fatalf("key list shows a secret: %s", body)
	}
}
