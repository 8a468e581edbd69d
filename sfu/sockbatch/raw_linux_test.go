package sockbatch

import (
	"net"
	"net/netip"
	"sync"
	"testing"
)

// A link-local peer's zone survives the trip through a socket address, as
// package net keeps it: the interface's name one way, its index the other.
func TestSockaddrZone(t *testing.T) {
	lo, err := net.InterfaceByIndex(1)
	if err != nil {
		t.Fatalf("interface 1 (loopback on Linux): %v", err)
	}
	for _, in := range []netip.AddrPort{
		netip.MustParseAddrPort("[fe80::1%" + lo.Name + "]:5000"),
		netip.MustParseAddrPort("[2001:db8::1]:5001"),
		netip.MustParseAddrPort("192.0.2.7:5002"),
	} {
		var sa sockaddr
		if sa.put(in, true) == 0 {
			t.Fatalf("%v: not written", in)
		}
		out, ok := sa.addrPort(new(sync.Map))
		if !ok || out != in {
			t.Fatalf("%v came back as %v (%v)", in, out, ok)
		}
	}
	if zoneIndex("7") != 7 || zoneName(nil, 4000000) != "4000000" {
		t.Fatal("numeric zones are not kept as numbers")
	}
}
