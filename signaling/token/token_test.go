package token

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestIssueVerify(t *testing.T) {
	iss := NewIssuer("key", secret)
	tok, err := iss.Issue(Claims{Identity: "P_a", Name: "Ada", Room: "r1", Metadata: `{"kind":"bot"}`, CanPublish: true, CanSubscribe: true}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewVerifier("key", secret).Verify(tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Identity != "P_a" || c.Name != "Ada" || c.Room != "r1" || !c.CanPublish || !c.CanSubscribe || c.Metadata != `{"kind":"bot"}` {
		t.Fatalf("claims = %+v", c)
	}
}

func TestVerifyRejects(t *testing.T) {
	iss := NewIssuer("key", secret)
	good, _ := iss.Issue(Claims{Identity: "P_a", Room: "r1"}, time.Minute)
	short, _ := iss.Issue(Claims{Identity: "P_a", Room: "r1"}, time.Millisecond)
	other, _ := NewIssuer("key", []byte("ffffffffffffffffffffffffffffffff")).Issue(Claims{Identity: "P_a", Room: "r1"}, time.Minute)
	otherKey, _ := NewIssuer("key2", secret).Issue(Claims{Identity: "P_a", Room: "r1"}, time.Minute)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	cases := []struct {
		name string
		tok  string
		now  time.Time
	}{
		{"empty", "", time.Now()},
		{"garbage", "not.a.jwt", time.Now()},
		{"wrong-secret", other, time.Now()},
		{"wrong-key", otherKey, time.Now()},
		{"tampered", tampered, time.Now()},
		{"expired-by-clock", good, time.Now().Add(2 * time.Minute)},
		{"expired", short, time.Now().Add(time.Second)},
		{"huge", strings.Repeat("a", 10000), time.Now()},
	}
	v := NewVerifier("key", secret)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := v.Verify(tc.tok, tc.now); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestIssueRequiresRoomAndTTL(t *testing.T) {
	if _, err := NewIssuer("key", secret).Issue(Claims{Identity: "x"}, time.Minute); err == nil {
		t.Fatal("issued a token without a room")
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := NewIssuer("key", secret).Issue(Claims{Identity: "x", Room: "r"}, ttl); err == nil {
			t.Fatalf("issued a token with ttl %v", ttl)
		}
	}
}

func TestFromRequest(t *testing.T) {
	cases := []struct {
		url, auth, want string
	}{
		{"/rtc?access_token=abc", "", "abc"},
		{"/rtc", "Bearer xyz", "xyz"},
		{"/rtc?access_token=abc", "Bearer xyz", "abc"},
		{"/rtc", "Basic xyz", ""},
		{"/rtc", "", ""},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", tc.url, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if got := FromRequest(r); got != tc.want {
			t.Errorf("%s %q: got %q, want %q", tc.url, tc.auth, got, tc.want)
		}
	}
}
