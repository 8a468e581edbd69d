package dsproto

import (
	"encoding/binary"
	"fmt"
)

// The codec of the message bodies: fixed-width big-endian integers and
// opaque<V> vectors (RFC 9420, Section 2.1.2). e2ee/mls/internal/tls cannot
// be imported from here, hence this small copy of the subset used.

// maxVarint is the largest length an opaque<V> header can carry (2^30 - 1).
const maxVarint = 1<<30 - 1

// appendVarint appends n in the shortest of the 1, 2 and 4 byte forms
// (RFC 9420, Section 2.1.2). n must not exceed maxVarint.
func appendVarint(b []byte, n int) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, byte(n>>8)|0x40, byte(n))
	default:
		return append(b, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
	}
}

// writer appends fields, remembering the first bound violated.
type writer struct {
	b   []byte
	err error
}

func (w *writer) uint8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) uint16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) uint32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) uint64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }

// opaque appends an opaque<V> of at most max bytes.
func (w *writer) opaque(field string, v []byte, max int) {
	if w.err != nil {
		return
	}
	if len(v) > max {
		w.err = fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrTooLarge, field, len(v), max)
		return
	}
	w.b = appendVarint(w.b, len(v))
	w.b = append(w.b, v...)
}

// reader consumes fields from a message body. Slices it returns alias the
// input. Every method checks lengths before slicing.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (r *reader) take(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("%s truncated", field)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) uint8(field string) uint8 {
	v := r.take(field, 1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) uint16(field string) uint16 {
	v := r.take(field, 2)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func (r *reader) uint32(field string) uint32 {
	v := r.take(field, 4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (r *reader) uint64(field string) uint64 {
	v := r.take(field, 8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// varint reads an opaque<V> length header and rejects non-minimal forms and
// the reserved prefix 11 (RFC 9420, Section 2.1.2).
func (r *reader) varint(field string) int {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("%s length truncated", field)
		return 0
	}
	var n, size, min int
	switch r.b[0] >> 6 {
	case 0:
		n, size, min = int(r.b[0]&0x3f), 1, 0
	case 1:
		if len(r.b) < 2 {
			r.fail("%s length truncated", field)
			return 0
		}
		n, size, min = int(r.b[0]&0x3f)<<8|int(r.b[1]), 2, 1<<6
	case 2:
		if len(r.b) < 4 {
			r.fail("%s length truncated", field)
			return 0
		}
		n, size, min = int(r.b[0]&0x3f)<<24|int(r.b[1])<<16|int(r.b[2])<<8|int(r.b[3]), 4, 1<<14
	default:
		r.fail("%s length has the reserved prefix", field)
		return 0
	}
	if n < min {
		r.fail("%s length is not minimally encoded", field)
		return 0
	}
	r.b = r.b[size:]
	return n
}

// opaque reads an opaque<V> of at most max bytes. An empty vector decodes
// as nil.
func (r *reader) opaque(field string, max int) []byte {
	n := r.varint(field)
	if r.err != nil {
		return nil
	}
	if n > max {
		r.err = fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrTooLarge, field, n, max)
		return nil
	}
	if n == 0 {
		return nil
	}
	return r.take(field, n)
}
