package ratelimit

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestBurstThenRefill(t *testing.T) {
	l := New(3, time.Second, 100)
	t0 := time.Unix(0, 0)
	for i := 0; i < 3; i++ {
		if !l.Allow("a", t0) {
			t.Fatalf("attempt %d refused within burst", i)
		}
	}
	if l.Allow("a", t0) {
		t.Fatal("attempt past burst allowed")
	}
	if !l.Allow("b", t0) {
		t.Fatal("another key is limited by a's bucket")
	}
	if l.Allow("a", t0.Add(900*time.Millisecond)) {
		t.Fatal("refilled too early")
	}
	if !l.Allow("a", t0.Add(1100*time.Millisecond)) {
		t.Fatal("not refilled after interval")
	}
}

func TestTableBounded(t *testing.T) {
	l := New(1, time.Hour, 10)
	t0 := time.Unix(0, 0)
	for i := 0; i < 10; i++ {
		if !l.Allow(fmt.Sprint(i), t0) {
			t.Fatalf("key %d refused", i)
		}
	}
	if l.Allow("new", t0) {
		t.Fatal("table grew past its bound while every bucket was spent")
	}
	if len(l.buckets) > 10 {
		t.Fatalf("table has %d keys", len(l.buckets))
	}
	// After the buckets refill they are forgotten and newcomers fit.
	if !l.Allow("new", t0.Add(2*time.Hour)) {
		t.Fatal("refilled buckets were not evicted")
	}
}

func TestSourceKey(t *testing.T) {
	cases := map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
	}
	for in, want := range cases {
		if got := SourceKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("SourceKey(%s) = %s, want %s", in, got, want)
		}
	}
}
