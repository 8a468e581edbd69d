package dialin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestAssignLookupPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dialin.json")
	d, err := NewDirectory(testKey, path)
	if err != nil {
		t.Fatal(err)
	}
	room := Room{Server: "https://meet.example", ID: "AbCdEf0123456789AbCdEf"}
	code, err := d.Assign(room, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidCode(code) {
		t.Fatalf("code %q", code)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), room.ID) || strings.Contains(string(b), code) || strings.Contains(string(b), "meet.example") {
		t.Fatal("directory file holds the room, server or code in the clear")
	}
	d2, err := NewDirectory(testKey, path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d2.Lookup(code)
	if err != nil || got != room {
		t.Fatalf("lookup after reload: %v, %v", got, err)
	}
	other, _ := NewDirectory([]byte("ffffffffffffffffffffffffffffffff"), path)
	if _, err := other.Lookup(code); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("another key opened the entry: %v", err)
	}
	wrong := []byte(code)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	if _, err := d2.Lookup(string(wrong)); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("wrong code: %v", err)
	}
	if err := d2.Revoke(code); err != nil {
		t.Fatal(err)
	}
	if _, err := d2.Lookup(code); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("revoked code: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	d, _ := NewDirectory(testKey, "")
	now := time.Unix(1000, 0)
	d.now = func() time.Time { return now }
	code, err := d.Assign(Room{Server: "https://x", ID: "r"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := d.Lookup(code); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("expired code: %v", err)
	}
}

func TestParseLink(t *testing.T) {
	for _, tc := range []struct {
		link string
		want Room
		err  error
	}{
		{"https://meet.example/m/ROOM123", Room{"https://meet.example", "ROOM123"}, nil},
		{"https://meet.example/m/ROOM123#secret", Room{}, ErrSecret},
		{"https://meet.example/x/ROOM123", Room{}, ErrRoom},
		{"ftp://meet.example/m/R", Room{}, ErrRoom},
	} {
		t.Run(tc.link, func(t *testing.T) {
			got, err := ParseLink(tc.link)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("got %v, %v", got, err)
			}
		})
	}
}

func TestLoadKeyPermissions(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	k, err := LoadKey(p)
	if err != nil || len(k) != 32 {
		t.Fatalf("create: %v", err)
	}
	k2, err := LoadKey(p)
	if err != nil || string(k2) != string(k) {
		t.Fatalf("reload: %v", err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(p); !errors.Is(err, ErrKey) {
		t.Fatalf("world-readable key accepted: %v", err)
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(LimitConfig{PerCaller: 3, PerCallerWindow: time.Minute, GlobalPerMinute: 5, MaxCallers: 3}, func() time.Time { return now })
	for i := 0; i < 3; i++ {
		if !l.Allow("a") {
			t.Fatalf("caller a refused after %d failures", i)
		}
		l.Fail("a")
	}
	if l.Allow("a") {
		t.Fatal("caller a allowed a 4th wrong code")
	}
	if !l.Allow("b") {
		t.Fatal("caller b limited by a's failures")
	}
	l.Fail("b")
	l.Fail("c")
	// Global: 5 failures spent.
	if l.Allow("d") {
		t.Fatal("global budget not enforced")
	}
	now = now.Add(time.Minute)
	if !l.Allow("a") || !l.Allow("d") {
		t.Fatal("budgets did not refill")
	}
}

func TestLimiterTableBound(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(LimitConfig{PerCaller: 2, PerCallerWindow: time.Hour, GlobalPerMinute: 1000, MaxCallers: 2}, func() time.Time { return now })
	l.Fail("a")
	l.Fail("b")
	if l.Allow("c") {
		t.Fatal("new caller allowed with a full table of limited callers")
	}
	now = now.Add(time.Hour)
	if !l.Allow("c") {
		t.Fatal("table not pruned after refill")
	}
}
