package session

import (
	"errors"
	"fmt"
)

// errShort and errVarint are the decoding failures of the small codec below.
var (
	errShort  = errors.New("truncated")
	errVarint = errors.New("non-minimal or invalid variable-length integer")
)

// appendOpaque appends an opaque<V> vector: a variable-length length prefix
// (RFC 9420, Section 2.1.2) followed by b.
func appendOpaque(dst, b []byte) []byte {
	n := uint64(len(b))
	switch {
	case n < 1<<6:
		dst = append(dst, byte(n))
	case n < 1<<14:
		dst = append(dst, byte(n>>8)|0x40, byte(n))
	default:
		dst = append(dst, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, b...)
}

// reader decodes the TLS presentation language subset the identity uses.
type reader struct{ b []byte }

func (r *reader) uint8() (uint8, error) {
	if len(r.b) < 1 {
		return 0, errShort
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v, nil
}

// opaque reads an opaque<V> of at most max bytes (RFC 9420, Section 2.1.2:
// the shortest encoding is required).
func (r *reader) opaque(max int) ([]byte, error) {
	if len(r.b) < 1 {
		return nil, errShort
	}
	prefix := r.b[0] >> 6
	var n uint64
	switch prefix {
	case 0:
		n = uint64(r.b[0] & 0x3f)
		r.b = r.b[1:]
	case 1:
		if len(r.b) < 2 {
			return nil, errShort
		}
		n = uint64(r.b[0]&0x3f)<<8 | uint64(r.b[1])
		if n < 1<<6 {
			return nil, errVarint
		}
		r.b = r.b[2:]
	case 2:
		if len(r.b) < 4 {
			return nil, errShort
		}
		n = uint64(r.b[0]&0x3f)<<24 | uint64(r.b[1])<<16 | uint64(r.b[2])<<8 | uint64(r.b[3])
		if n < 1<<14 {
			return nil, errVarint
		}
		r.b = r.b[4:]
	default:
		return nil, errVarint
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("vector of %d bytes exceeds %d", n, max)
	}
	if uint64(len(r.b)) < n {
		return nil, errShort
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v, nil
}

// fields decodes a sequence of fields, keeping the first error.
type fields struct {
	r   reader
	err error
}

func (f *fields) opaque() []byte {
	if f.err != nil {
		return nil
	}
	v, err := f.r.opaque(maxStateVector)
	f.err = err
	return v
}

func (f *fields) u8() uint8 {
	if f.err != nil {
		return 0
	}
	v, err := f.r.uint8()
	f.err = err
	return v
}

// maxStateVector bounds a vector in saved state (a group of 1000 members
// saves well under this).
const maxStateVector = 64 << 20
