package packetcache

import (
	"bytes"
	"errors"
	"testing"
)

func TestStoreGet(t *testing.T) {
	c := New(100)
	if c.Size() != 128 {
		t.Fatalf("Size = %d, want 128", c.Size())
	}
	buf := make([]byte, MaxPacketSize)
	tests := []struct {
		name   string
		stored []uint16
		get    uint16
		want   bool
	}{
		{"stored", []uint16{10}, 10, true},
		{"never stored", []uint16{10}, 11, false},
		{"wraparound", []uint16{65534, 65535, 0, 1}, 65535, true},
		{"after wraparound", []uint16{65534, 65535, 0, 1}, 1, true},
		{"overwritten by a later packet in the same slot", []uint16{5, 5 + 128}, 5, false},
		{"later packet in the same slot", []uint16{5, 5 + 128}, 5 + 128, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(100)
			for _, s := range tc.stored {
				if err := c.Store(s, []byte{byte(s >> 8), byte(s), 0xee}); err != nil {
					t.Fatal(err)
				}
			}
			n, ok := c.Get(tc.get, buf)
			if ok != tc.want {
				t.Fatalf("Get(%d) ok = %v, want %v", tc.get, ok, tc.want)
			}
			if ok && !bytes.Equal(buf[:n], []byte{byte(tc.get >> 8), byte(tc.get), 0xee}) {
				t.Fatalf("Get(%d) = %x", tc.get, buf[:n])
			}
		})
	}
}

func TestBounds(t *testing.T) {
	c := New(16)
	if err := c.Store(1, make([]byte, MaxPacketSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Store(oversized) = %v, want ErrTooLarge", err)
	}
	if err := c.Store(2, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(2, make([]byte, 99)); ok {
		t.Fatal("Get into a short buffer succeeded")
	}
	// The stored copy must not alias the caller's buffer.
	p := []byte{1, 2, 3}
	_ = c.Store(3, p)
	p[0] = 9
	out := make([]byte, MaxPacketSize)
	n, _ := c.Get(3, out)
	if out[0] != 1 || n != 3 {
		t.Fatalf("cache aliased the caller's buffer: %x", out[:n])
	}
}

func BenchmarkStore(b *testing.B) {
	c := New(1024)
	p := make([]byte, 1200)
	b.SetBytes(int64(len(p)))
	for i := 0; b.Loop(); i++ {
		_ = c.Store(uint16(i), p)
	}
}
