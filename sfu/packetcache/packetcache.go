package packetcache

import (
	"errors"
	"fmt"
	"sync"
)

// MaxPacketSize is the largest packet the cache stores; larger ones are
// refused (nothing on a WebRTC path should exceed a UDP datagram's MTU).
const MaxPacketSize = 1500

// ErrTooLarge is returned by Store for a packet over MaxPacketSize.
var ErrTooLarge = errors.New("packetcache: packet too large")

type slot struct {
	seq   uint16
	valid bool
	n     int
	buf   [MaxPacketSize]byte
}

// Cache holds up to Size packets of one stream. It is safe for concurrent
// use: the stream's reader stores while NACK handlers read.
type Cache struct {
	mu    sync.Mutex
	slots []slot
	mask  uint16
}

// New returns a cache with room for size packets, rounded up to a power of
// two between 16 and 32768.
func New(size int) *Cache {
	n := 16
	for n < size && n < 32768 {
		n <<= 1
	}
	return &Cache{slots: make([]slot, n), mask: uint16(n - 1)}
}

// Size is the number of slots.
func (c *Cache) Size() int { return len(c.slots) }

// Store copies pkt, the packet with sequence number seq, into its slot,
// replacing whatever packet was there.
func (c *Cache) Store(seq uint16, pkt []byte) error {
	if len(pkt) > MaxPacketSize {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(pkt))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[seq&c.mask]
	s.seq = seq
	s.valid = true
	s.n = copy(s.buf[:], pkt)
	return nil
}

// Get copies the packet with sequence number seq into dst and returns its
// length, or 0 and false if it is not cached (never stored, or overwritten by
// a packet Size sequence numbers later). dst should hold MaxPacketSize bytes;
// a shorter dst yields false.
func (c *Cache) Get(seq uint16, dst []byte) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[seq&c.mask]
	if !s.valid || s.seq != seq || len(dst) < s.n {
		return 0, false
	}
	return copy(dst, s.buf[:s.n]), true
}
