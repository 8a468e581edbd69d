package sockbatch

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// sink is a UDP socket that collects what it receives.
type sink struct {
	conn *net.UDPConn
	addr netip.AddrPort
	got  chan []byte
}

func newSink(t testing.TB) *sink {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(4 << 20)
	s := &sink{conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), got: make(chan []byte, 100000)}
	go func() {
		for {
			b := make([]byte, 2048)
			n, err := c.Read(b)
			if err != nil {
				close(s.got)
				return
			}
			s.got <- b[:n]
		}
	}()
	t.Cleanup(func() { c.Close() })
	return s
}

// next waits for the sink's next datagram.
func (s *sink) next(t testing.TB) []byte {
	t.Helper()
	select {
	case b := <-s.got:
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram within 5 s")
		return nil
	}
}

// none asserts that nothing arrives within a short while.
func (s *sink) none(t testing.TB) {
	t.Helper()
	select {
	case b := <-s.got:
		t.Fatalf("unexpected datagram %x", b)
	case <-time.After(50 * time.Millisecond):
	}
}

func newConn(t testing.TB, network, addr string) *Conn {
	t.Helper()
	udp, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(udp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func packet(writer, seq int) []byte {
	b := make([]byte, 1200)
	binary.BigEndian.PutUint32(b[0:], uint32(writer))
	binary.BigEndian.PutUint32(b[4:], uint32(seq))
	return b
}

func TestHoldGathersOneCall(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	sinks := []*sink{newSink(t), newSink(t), newSink(t)}

	c.Hold()
	for i, s := range sinks {
		if n, err := c.WriteToAddrPort(packet(0, i), s.addr); err != nil || n != 1200 {
			t.Fatalf("write %d: n=%d err=%v", i, n, err)
		}
	}
	for _, s := range sinks {
		s.none(t) // held: nothing sent yet
	}
	c.Release()
	for i, s := range sinks {
		if got := binary.BigEndian.Uint32(s.next(t)[4:]); got != uint32(i) {
			t.Fatalf("sink %d got packet %d", i, got)
		}
	}
	if calls, pkts := c.Stats().Calls.Load(), c.Stats().Packets.Load(); calls != 1 || pkts != 3 {
		t.Fatalf("calls=%d packets=%d, want one call for 3 packets", calls, pkts)
	}
}

func TestUnheldWriteGoesAtOnce(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	s := newSink(t)
	if _, err := c.WriteTo(packet(0, 7), net.UDPAddrFromAddrPort(s.addr)); err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint32(s.next(t)[4:]); got != 7 {
		t.Fatalf("got packet %d", got)
	}
	if _, err := c.WriteTo(packet(0, 8), &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)}); err == nil {
		t.Fatal("a write to a non-UDP address succeeded")
	}
}

// A dual-stack socket (what `serve` binds without a listen IP) sends to
// IPv4 peers in batches too.
func TestDualStackBatchToIPv4(t *testing.T) {
	c := newConn(t, "udp", "[::]:0")
	a, b := newSink(t), newSink(t)
	c.Hold()
	c.WriteToAddrPort(packet(1, 1), netip.AddrPortFrom(netip.AddrFrom16(a.addr.Addr().As16()), a.addr.Port())) // 4-in-6
	c.WriteToAddrPort(packet(1, 2), b.addr)
	c.Release()
	if got := binary.BigEndian.Uint32(a.next(t)[4:]); got != 1 {
		t.Fatalf("got %d", got)
	}
	if got := binary.BigEndian.Uint32(b.next(t)[4:]); got != 2 {
		t.Fatalf("got %d", got)
	}
	if e := c.Stats().Errors.Load(); e != 0 {
		t.Fatalf("%d errors", e)
	}
}

// More writes under one hold than a batch holds: all arrive, in order.
func TestOverflowKeepsOrder(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	s := newSink(t)
	const n = 3*maxBatch + 5
	c.Hold()
	for i := 0; i < n; i++ {
		c.WriteToAddrPort(packet(0, i), s.addr)
	}
	c.Release()
	for i := 0; i < n; i++ {
		if got := binary.BigEndian.Uint32(s.next(t)[4:]); got != uint32(i) {
			t.Fatalf("datagram %d is packet %d", i, got)
		}
	}
	if calls := c.Stats().Calls.Load(); calls > 4 {
		t.Fatalf("%d calls for %d packets", calls, n)
	}
}

// Several forwarding goroutines, each holding around its own fan-out, and
// others writing without a hold: every datagram arrives, and each writer's
// datagrams arrive in the order it wrote them.
func TestConcurrentWritersKeepTheirOrder(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	const writers, each = 6, 1000
	// One sink per writer, so that a burst never overflows a receive
	// buffer (loss here would be the test's, not the Conn's).
	sinks := make([]*sink, writers)
	for w := range sinks {
		sinks[w] = newSink(t)
	}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				if w%2 == 0 {
					c.Hold()
					for k := 0; k < 3 && i < each; k++ {
						c.WriteToAddrPort(packet(w, i), sinks[w].addr)
						i++
					}
					c.Release()
				} else {
					c.WriteToAddrPort(packet(w, i), sinks[w].addr)
					i++
				}
			}
		}()
	}
	wg.Wait()
	for w, s := range sinks {
		for i := 0; i < each; i++ {
			b := s.next(t)
			if got, seq := binary.BigEndian.Uint32(b[0:]), binary.BigEndian.Uint32(b[4:]); got != uint32(w) || seq != uint32(i) {
				st := c.Stats()
				t.Fatalf("sink %d datagram %d: writer %d packet %d (packets=%d errors=%d oversize=%d calls=%d)", w, i, got, seq, st.Packets.Load(), st.Errors.Load(), st.Oversize.Load(), st.Calls.Load())
			}
		}
	}
	st := c.Stats()
	if st.Packets.Load() != writers*each || st.Errors.Load() != 0 || st.Oversize.Load() != 0 {
		t.Fatalf("packets=%d errors=%d oversize=%d", st.Packets.Load(), st.Errors.Load(), st.Oversize.Load())
	}
	if st.Calls.Load() >= writers*each {
		t.Fatalf("%d calls for %d packets: nothing was gathered", st.Calls.Load(), writers*each)
	}
}

// Close sends what a hold left queued.
func TestCloseFlushes(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0")
	s := newSink(t)
	c.Hold()
	c.WriteToAddrPort(packet(0, 1), s.addr)
	c.WriteToAddrPort(packet(0, 2), s.addr)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	s.next(t)
	s.next(t)
}
