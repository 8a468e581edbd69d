package tls

import (
	"encoding/binary"
	"fmt"
)

// MaxVarint is the largest value a variable-length integer can carry
// (RFC 9420, Section 2.1.2: 30 usable bits).
const MaxVarint = 1<<30 - 1

// Marshaler is implemented by MLS structures that can serialize themselves.
type Marshaler interface {
	// MarshalTLS appends the TLS encoding of the value to w.
	MarshalTLS(w *Writer)
}

// Marshal returns the TLS encoding of m, or the first error the Writer
// recorded while encoding it.
func Marshal(m Marshaler) ([]byte, error) {
	var w Writer
	m.MarshalTLS(&w)
	return w.Bytes()
}

// Writer appends TLS-encoded values to a buffer. Its zero value is ready to
// use. Encoding errors (a vector longer than 2^30-1 bytes, a varint out of
// range) are sticky: the first one is kept, later writes still append, and
// Bytes and Err report it. A Writer never panics on any input.
type Writer struct {
	buf []byte
	err error
}

// NewWriter returns a Writer that appends to buf (which may be nil). Passing a
// buffer with spare capacity avoids reallocation.
func NewWriter(buf []byte) *Writer {
	return &Writer{buf: buf}
}

// Bytes returns the encoded bytes and the first error recorded, if any. The
// slice aliases the Writer's buffer.
func (w *Writer) Bytes() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	return w.buf, nil
}

// Err returns the first error recorded, if any.
func (w *Writer) Err() error { return w.err }

// Len returns the number of bytes written so far.
func (w *Writer) Len() int { return len(w.buf) }

// Reset empties the Writer, keeping its buffer's capacity, and clears its error.
func (w *Writer) Reset() {
	w.buf = w.buf[:0]
	w.err = nil
}

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// Uint8 appends v (RFC 8446, Section 3.3).
func (w *Writer) Uint8(v uint8) { w.buf = append(w.buf, v) }

// Uint16 appends v in network byte order (RFC 8446, Section 3.3).
func (w *Writer) Uint16(v uint16) { w.buf = binary.BigEndian.AppendUint16(w.buf, v) }

// Uint32 appends v in network byte order (RFC 8446, Section 3.3).
func (w *Writer) Uint32(v uint32) { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }

// Uint64 appends v in network byte order (RFC 8446, Section 3.3).
func (w *Writer) Uint64(v uint64) { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }

// Bool appends v as one octet, 0 or 1.
func (w *Writer) Bool(v bool) {
	if v {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
}

// Raw appends b with no length prefix (a fixed-size opaque, RFC 8446,
// Section 3.4).
func (w *Writer) Raw(b []byte) { w.buf = append(w.buf, b...) }

// varintSize returns the minimal encoded size of v, or 0 if v is too large
// (RFC 9420, Section 2.1.2, Table 1).
func varintSize(v uint64) int {
	switch {
	case v <= 63:
		return 1
	case v <= 16383:
		return 2
	case v <= MaxVarint:
		return 4
	default:
		return 0
	}
}

// putVarint writes v into b, which has exactly varintSize(v) bytes.
func putVarint(b []byte, v uint64) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.BigEndian.PutUint16(b, uint16(v)|0x4000)
	case 4:
		binary.BigEndian.PutUint32(b, uint32(v)|0x8000_0000)
	}
}

// Varint appends v as a minimal MLS variable-length integer (RFC 9420,
// Section 2.1.2). A value above MaxVarint records ErrVarintRange.
func (w *Writer) Varint(v uint64) {
	n := varintSize(v)
	if n == 0 {
		w.fail(fmt.Errorf("%w: %d", ErrVarintRange, v))
		return
	}
	var tmp [4]byte
	putVarint(tmp[:n], v)
	w.buf = append(w.buf, tmp[:n]...)
}

// Opaque appends b as opaque<V>: a varint length followed by the bytes
// (RFC 9420, Section 2.1.2).
func (w *Writer) Opaque(b []byte) {
	w.Varint(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

// Vector appends a variable-size vector<V>: f writes the elements to w, and
// Vector prefixes them with their total length in bytes as a minimal varint
// (RFC 9420, Section 2.1.2). The body is written in place and moved once to
// make room for the header, so no temporary buffer is allocated.
func (w *Writer) Vector(f func(w *Writer)) {
	start := len(w.buf)
	f(w)
	n := uint64(len(w.buf) - start)
	h := varintSize(n)
	if h == 0 {
		w.fail(fmt.Errorf("%w: vector of %d bytes", ErrVarintRange, n))
		return
	}
	var zero [4]byte
	w.buf = append(w.buf, zero[:h]...)
	copy(w.buf[start+h:], w.buf[start:start+int(n)])
	putVarint(w.buf[start:start+h], n)
}

// Optional appends optional<T> (RFC 9420, Section 2.1.1): the octet 0 if
// present is false, otherwise the octet 1 followed by what f writes. f is not
// called when present is false and may then be nil.
func (w *Writer) Optional(present bool, f func(w *Writer)) {
	if !present {
		w.buf = append(w.buf, 0)
		return
	}
	w.buf = append(w.buf, 1)
	f(w)
}
