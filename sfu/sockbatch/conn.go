// Package sockbatch sends the packets an SFU fans out from one incoming
// packet in one sendmmsg(2) call instead of one sendto(2) each.
//
// A Conn wraps the SFU's shared UDP socket (the one under pion's ICE UDP
// mux). A forwarding loop brackets its fan-out with Hold and Release: every
// write on the socket in between, from any goroutine, is copied into a queue
// and the queue leaves in one system call, in the order written, when the
// hold ends. Outside a hold a write goes straight to the socket, unless a
// batch is on its way, in which case it queues behind it so that no packet
// overtakes one written before it.
//
// On loopback on the project's machine, a 1200-byte datagram costs the
// sending thread 4.2-4.6 µs of CPU by sendto and 3.5-3.6 / 3.2-3.4 /
// 3.1-3.2 µs by sendmmsg in batches of 3 / 8 / 20 (BenchmarkWrite in this
// package, -count 3, on the raw calls below; 3.9 and 3.5 / 3.2 / 3.2 µs
// through package net and x/net in an earlier, quieter run); the
// rest is the kernel's own per-datagram work, which no batching removes.
//
// On Linux the Conn also reads the socket, and makes all its calls with
// RawSyscall (raw_linux.go), so that they do not wake the Go runtime's
// sysmon thread from its idle sleep.
package sockbatch

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxBatch bounds one sendmmsg call and one queue; a writer that
	// finds the queue full while a batch is on its way waits for it.
	maxBatch = 256
	// slotSize holds any datagram pion writes (its MTU is 1200-1500).
	slotSize = 1500
)

// Conn is a net.PacketConn whose writes can be gathered into batches. It
// also implements pion/ice's AddrPortReaderWriter, so the UDP mux keeps its
// allocation-free path.
type Conn struct {
	udp *net.UDPConn
	raw rawSocket // the system calls, on udp's descriptor

	mu       sync.Mutex
	holds    int    // open Hold calls
	flushing bool   // a goroutine is sending; writes queue behind it
	queue    *batch // filling
	spare    *batch // empty, or nil while being sent
	room     sync.Cond

	stats Stats
}

// Stats counts what a Conn did.
type Stats struct {
	Calls    atomic.Uint64 // system calls that sent datagrams
	Packets  atomic.Uint64 // datagrams sent
	Oversize atomic.Uint64 // larger than a slot, written straight
	Errors   atomic.Uint64 // datagrams the kernel refused
}

type batch struct {
	bufs  [][]byte // slots of slotSize capacity
	addrs []netip.AddrPort
	n     int
	sys   sysBatch
}

// add copies b for addr into the next slot; false when the batch is full.
func (q *batch) add(b []byte, addr netip.AddrPort) bool {
	if q.n == maxBatch {
		return false
	}
	if q.n == len(q.bufs) {
		q.bufs = append(q.bufs, make([]byte, 0, slotSize))
		q.addrs = append(q.addrs, netip.AddrPort{})
	}
	q.bufs[q.n] = append(q.bufs[q.n][:0], b...)
	q.addrs[q.n] = addr
	q.n++
	return true
}

// New wraps udp. The Conn owns it from now on: Close closes it.
func New(udp *net.UDPConn) (*Conn, error) {
	raw, err := newRawSocket(udp)
	if err != nil {
		return nil, err
	}
	c := &Conn{udp: udp, raw: raw, queue: &batch{}, spare: &batch{}}
	c.room.L = &c.mu
	return c, nil
}

// Stats returns the Conn's counters.
func (c *Conn) Stats() *Stats { return &c.stats }

// Hold starts gathering writes; the matching Release sends them. Holds may
// overlap (one per forwarding goroutine): each Release sends whatever is
// queued at that moment.
func (c *Conn) Hold() {
	c.mu.Lock()
	c.holds++
	c.mu.Unlock()
}

// Release ends a Hold and sends the queue, unless another goroutine is
// already sending (it will send the queue too before it stops).
func (c *Conn) Release() {
	c.mu.Lock()
	c.holds--
	if c.flushing || c.queue.n == 0 {
		c.mu.Unlock()
		return
	}
	c.flushing = true
	c.mu.Unlock()
	c.drain()
}

// WriteToAddrPort sends b to addr, or queues a copy of it while a hold is
// open or a batch is being sent. Errors of queued datagrams are counted,
// not returned: UDP gives no delivery promise either way.
func (c *Conn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if len(b) > slotSize {
		c.stats.Oversize.Add(1)
		return c.direct(b, addr)
	}
	c.mu.Lock()
	for {
		if c.holds == 0 && !c.flushing {
			// Nothing is being sent: write now, and let writes that
			// come meanwhile queue behind this one.
			c.flushing = true
			c.mu.Unlock()
			n, err := c.direct(b, addr)
			c.drain()
			return n, err
		}
		if c.queue.add(b, addr) {
			c.mu.Unlock()
			return len(b), nil
		}
		if c.flushing {
			// Full behind a send in progress: wait for the sender to
			// take the queue (one system call at most).
			c.room.Wait()
			continue
		}
		// Full under a hold and nobody sending: send the queue first.
		c.flushing = true
		c.mu.Unlock()
		c.drain()
		c.mu.Lock()
	}
}

// WriteTo is WriteToAddrPort for a net.Addr (pion uses it for STUN and
// DTLS on some paths).
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("sockbatch: write to %T, want *net.UDPAddr", addr)
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

func (c *Conn) direct(b []byte, addr netip.AddrPort) (int, error) {
	n, err := c.raw.sendto(b, addr)
	c.stats.Calls.Add(1)
	if err != nil {
		c.stats.Errors.Add(1)
		return n, fmt.Errorf("sockbatch: write: %w", err)
	}
	c.stats.Packets.Add(1)
	return n, nil
}

// drain sends queued batches until the queue is empty, then clears
// flushing. The caller has set flushing.
func (c *Conn) drain() {
	for {
		c.mu.Lock()
		q := c.queue
		if q.n == 0 {
			c.flushing = false
			c.room.Broadcast()
			c.mu.Unlock()
			return
		}
		c.queue, c.spare = c.spare, nil
		c.room.Broadcast()
		c.mu.Unlock()

		c.send(q)

		q.n = 0
		c.mu.Lock()
		c.spare = q
		c.mu.Unlock()
	}
}

// send writes q's datagrams: one by sendto, more by sendmmsg (which may
// take fewer than offered, so it loops).
func (c *Conn) send(q *batch) {
	if q.n == 1 {
		_, _ = c.direct(q.bufs[0], q.addrs[0])
		return
	}
	for i := 0; i < q.n; {
		n, err := c.raw.sendmmsg(q, i)
		c.stats.Calls.Add(1)
		c.stats.Packets.Add(uint64(n))
		if err != nil {
			// The datagram after those taken was refused (for example
			// an unreachable address); skip it and send the rest.
			c.stats.Errors.Add(1)
			n++
		}
		i += max(n, 1)
	}
}

// ReadFromAddrPort reads one datagram. Errors are not wrapped: pion's UDP
// mux tells a timeout by os.IsTimeout, which does not unwrap.
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.raw.recvfrom(b)
}

// ReadFrom reads one datagram.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(addr), nil
}

// Close sends what is queued and closes the socket.
func (c *Conn) Close() error {
	c.mu.Lock()
	if !c.flushing && c.queue.n > 0 {
		c.flushing = true
		c.mu.Unlock()
		c.drain()
	} else {
		c.mu.Unlock()
	}
	if err := c.udp.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("sockbatch: close: %w", err)
	}
	return nil
}

// LocalAddr is the socket's address (a *net.UDPAddr, as pion expects).
func (c *Conn) LocalAddr() net.Addr { return c.udp.LocalAddr() }

// SetDeadline sets the socket's read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.udp.SetDeadline(t) }

// SetReadDeadline sets the socket's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.udp.SetReadDeadline(t) }

// SetWriteDeadline sets the socket's write deadline (pion's UDP mux uses
// it to abort a blocked write).
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.udp.SetWriteDeadline(t) }
