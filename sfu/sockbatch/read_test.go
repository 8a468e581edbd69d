package sockbatch

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// TestRead: datagrams from IPv4 and IPv6 peers come back with their source,
// an IPv4 peer of a dual-stack socket unmapped (pion's mux keys on it).
func TestRead(t *testing.T) {
	for _, tc := range []struct{ listen, peerNet, peer string }{
		{"127.0.0.1:0", "udp4", "127.0.0.1:0"},
		{"[::]:0", "udp4", "127.0.0.1:0"},
		{"[::]:0", "udp6", "[::1]:0"},
	} {
		t.Run(tc.listen+"<-"+tc.peer, func(t *testing.T) {
			c := newConn(t, "udp", tc.listen)
			peer, err := net.ListenUDP(tc.peerNet, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tc.peer)))
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			to := netip.AddrPortFrom(netip.MustParseAddrPort(tc.peer).Addr(), c.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			want := packet(7, 9)
			if _, err := peer.WriteToUDPAddrPort(want, to); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 2048)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := c.ReadFromAddrPort(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf[:n], want) {
				t.Fatalf("read %d bytes, not what was sent", n)
			}
			if pa := peer.LocalAddr().(*net.UDPAddr).AddrPort(); from != pa {
				t.Fatalf("source %v, want %v", from, pa)
			}
			// And a reply to that source reaches the peer.
			if _, err := c.WriteToAddrPort(want[:10], from); err != nil {
				t.Fatal(err)
			}
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := peer.Read(buf); err != nil || n != 10 {
				t.Fatalf("reply: %d bytes, %v", n, err)
			}
		})
	}
}

// A read deadline ends a read as a timeout that os.IsTimeout sees (pion's
// mux goes on reading after one and stops after any other error), and
// Close ends a blocked read with net.ErrClosed.
func TestReadTimeoutAndClose(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 100)
	if _, _, err := c.ReadFromAddrPort(buf); !os.IsTimeout(err) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, _, err := c.ReadFrom(buf); done <- err }()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a blocked read")
	}
}

// A datagram to an address the socket's family cannot reach fails alone:
// the rest of its batch still leaves.
func TestUnreachableAddressInBatch(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	s := newSink(t)
	if _, err := c.WriteToAddrPort(packet(0, 0), netip.MustParseAddrPort("[::1]:9")); err == nil {
		t.Fatal("an IPv6 destination from an IPv4 socket: no error")
	}
	c.Hold()
	c.WriteToAddrPort(packet(0, 1), s.addr)
	c.WriteToAddrPort(packet(0, 2), netip.MustParseAddrPort("[::1]:9"))
	c.WriteToAddrPort(packet(0, 3), s.addr)
	c.Release()
	for _, want := range []byte{1, 3} {
		if got := s.next(t); got[7] != want {
			t.Fatalf("datagram %d, want %d", got[7], want)
		}
	}
	if e := c.Stats().Errors.Load(); e != 2 {
		t.Fatalf("%d errors counted, want 2", e)
	}
}

// An empty datagram is a datagram: alone and inside a batch it leaves (and
// does not crash the sender).
func TestEmptyDatagram(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	s := newSink(t)
	if _, err := c.WriteToAddrPort(nil, s.addr); err != nil {
		t.Fatal(err)
	}
	c.Hold()
	c.WriteToAddrPort([]byte{}, s.addr)
	c.WriteToAddrPort(packet(0, 5), s.addr)
	c.Release()
	for i, want := range []int{0, 0, 1200} {
		if got := len(s.next(t)); got != want {
			t.Fatalf("datagram %d: %d bytes, want %d", i, got, want)
		}
	}
}

// The socket's calls allocate nothing per datagram, as package net's do:
// writes alone and in a batch, and reads. AllocsPerRun counts every
// goroutine's allocations, so the destination is a socket nobody reads
// (what overflows its buffer is dropped) rather than a sink.
func TestNoAllocationsPerDatagram(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	dst, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	p := packet(0, 0)
	if n := testing.AllocsPerRun(1000, func() { c.WriteToAddrPort(p, to) }); n != 0 {
		t.Errorf("%.1f allocations per write", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		c.Hold()
		c.WriteToAddrPort(p, to)
		c.WriteToAddrPort(p, to)
		c.Release()
	}); n != 0 {
		t.Errorf("%.1f allocations per batch of two", n)
	}
	self := c.LocalAddr().(*net.UDPAddr).AddrPort()
	buf := make([]byte, 1500)
	if n := testing.AllocsPerRun(1000, func() {
		dst.WriteToUDPAddrPort(p, self)
		if _, _, err := c.ReadFromAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%.1f allocations per read", n)
	}
}
