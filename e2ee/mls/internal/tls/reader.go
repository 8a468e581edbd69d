package tls

import (
	"encoding/binary"
	"fmt"
)

// Unmarshaler is implemented by MLS structures that can decode themselves.
type Unmarshaler interface {
	// UnmarshalTLS reads the value from r. It must not read past the value
	// and must leave any remaining bytes in r for the caller.
	UnmarshalTLS(r *Reader) error
}

// Unmarshal decodes data into u and fails with ErrTrailingData unless u
// consumed all of data.
func Unmarshal(data []byte, u Unmarshaler) error {
	r := NewReader(data)
	if err := u.UnmarshalTLS(r); err != nil {
		return err
	}
	return r.Done()
}

// Reader decodes TLS-encoded values from a byte slice. Every method checks
// bounds and returns an error instead of panicking; after a failed read the
// Reader's position is unspecified and it should be abandoned.
type Reader struct {
	data []byte
	off  int
}

// NewReader returns a Reader over data. The Reader never modifies data.
func NewReader(data []byte) *Reader {
	return &Reader{data: data}
}

// Remaining returns the number of unread bytes.
func (r *Reader) Remaining() int { return len(r.data) - r.off }

// Empty reports whether every byte has been read.
func (r *Reader) Empty() bool { return r.off >= len(r.data) }

// Offset returns the number of bytes read so far.
func (r *Reader) Offset() int { return r.off }

// Done returns ErrTrailingData if any byte is left unread. Call it when a
// value must be the whole input (RFC 9420 messages, vector bodies).
func (r *Reader) Done() error {
	if n := r.Remaining(); n != 0 {
		return fmt.Errorf("%w: %d bytes", ErrTrailingData, n)
	}
	return nil
}

// take returns the next n bytes (aliasing the input) or ErrTruncated.
func (r *Reader) take(n int) ([]byte, error) {
	if n < 0 || n > r.Remaining() {
		return nil, fmt.Errorf("%w: need %d bytes, have %d", ErrTruncated, n, r.Remaining())
	}
	b := r.data[r.off : r.off+n : r.off+n]
	r.off += n
	return b, nil
}

// Uint8 reads one octet.
func (r *Reader) Uint8() (uint8, error) {
	b, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// Uint16 reads a big-endian uint16.
func (r *Reader) Uint16() (uint16, error) {
	b, err := r.take(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

// Uint32 reads a big-endian uint32.
func (r *Reader) Uint32() (uint32, error) {
	b, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// Uint64 reads a big-endian uint64.
func (r *Reader) Uint64() (uint64, error) {
	b, err := r.take(8)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b), nil
}

// Bool reads one octet that must be 0 or 1.
func (r *Reader) Bool() (bool, error) {
	v, err := r.Uint8()
	if err != nil {
		return false, err
	}
	switch v {
	case 0:
		return false, nil
	case 1:
		return true, nil
	default:
		return false, fmt.Errorf("%w: %#02x", ErrBool, v)
	}
}

// Varint reads an MLS variable-length integer, rejecting the reserved prefix
// 0b11 and any non-minimal encoding (RFC 9420, Section 2.1.2, ReadVarint).
func (r *Reader) Varint() (uint64, error) {
	first, err := r.Uint8()
	if err != nil {
		return 0, err
	}
	prefix := first >> 6
	if prefix == 3 {
		return 0, fmt.Errorf("%w: first octet %#02x", ErrVarintPrefix, first)
	}
	length := 1 << prefix
	v := uint64(first & 0x3f)
	rest, err := r.take(length - 1)
	if err != nil {
		return 0, err
	}
	for _, b := range rest {
		v = v<<8 | uint64(b)
	}
	// "Check if the value would fit in half the provided length."
	if prefix >= 1 && v < 1<<(8*(length/2)-2) {
		return 0, fmt.Errorf("%w: %d in %d bytes", ErrVarintNotMinimal, v, length)
	}
	return v, nil
}

// length reads a varint length and checks it against max and the input left.
func (r *Reader) length(max int) (int, error) {
	n, err := r.Varint()
	if err != nil {
		return 0, err
	}
	if max >= 0 && n > uint64(max) {
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLong, n, max)
	}
	if n > uint64(r.Remaining()) {
		return 0, fmt.Errorf("%w: vector of %d bytes, have %d", ErrTruncated, n, r.Remaining())
	}
	return int(n), nil
}

// Opaque reads opaque<V> (a varint length, then that many bytes) and returns
// a fresh copy of the bytes. A length above max fails with ErrTooLong before
// anything is allocated; a negative max means "no limit beyond the input".
// An empty vector decodes as a non-nil empty slice.
func (r *Reader) Opaque(max int) ([]byte, error) {
	n, err := r.length(max)
	if err != nil {
		return nil, err
	}
	b, err := r.take(n)
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	copy(out, b)
	return out, nil
}

// Raw reads exactly n bytes (a fixed-size opaque) and returns a fresh copy.
func (r *Reader) Raw(n int) ([]byte, error) {
	b, err := r.take(n)
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	copy(out, b)
	return out, nil
}

// Vector reads a vector<V> header and returns a Reader over exactly its body,
// advancing r past it. Decode the elements from the returned Reader until it
// is Empty. A body longer than max bytes fails with ErrTooLong; a negative
// max means "no limit beyond the input".
func (r *Reader) Vector(max int) (*Reader, error) {
	n, err := r.length(max)
	if err != nil {
		return nil, err
	}
	b, err := r.take(n)
	if err != nil {
		return nil, err
	}
	return &Reader{data: b}, nil
}

// Optional reads the presence octet of optional<T> (RFC 9420, Section 2.1.1),
// rejecting values other than 0 and 1. When it returns true the caller reads
// the value next.
func (r *Reader) Optional() (bool, error) {
	v, err := r.Uint8()
	if err != nil {
		return false, err
	}
	switch v {
	case 0:
		return false, nil
	case 1:
		return true, nil
	default:
		return false, fmt.Errorf("%w: %#02x", ErrOptionalPresence, v)
	}
}
