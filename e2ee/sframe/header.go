package sframe

import (
	"fmt"
	"math/bits"
)

// KeyID is an SFrame KID (RFC 9605, Section 4.3).
type KeyID uint64

// Counter is an SFrame CTR (RFC 9605, Section 4.3).
type Counter uint64

// MaxHeaderSize is the longest SFrame header: the config byte, an 8-byte KID
// and an 8-byte CTR.
const MaxHeaderSize = 17

// Header is a decoded SFrame header (RFC 9605, Section 4.3).
type Header struct {
	KID KeyID
	CTR Counter
}

// byteLen is the minimum number of bytes that encode v (v >= 8).
func byteLen(v uint64) int { return (bits.Len64(v) + 7) / 8 }

// MarshalSize returns the encoded length of h.
func (h Header) MarshalSize() int {
	n := 1
	if h.KID >= 8 {
		n += byteLen(uint64(h.KID))
	}
	if h.CTR >= 8 {
		n += byteLen(uint64(h.CTR))
	}
	return n
}

// AppendTo appends the encoding of h to b, per RFC 9605, Section 4.3: a value
// below 8 sits in the config byte (flag 0); otherwise the config byte holds
// its length minus one (flag 1) and the value follows big-endian in the
// minimum number of bytes, KID first.
func (h Header) AppendTo(b []byte) []byte {
	var config byte
	kid, ctr := uint64(h.KID), uint64(h.CTR)
	klen, clen := 0, 0
	if kid < 8 {
		config |= byte(kid) << 4
	} else {
		klen = byteLen(kid)
		config |= 0x80 | byte(klen-1)<<4
	}
	if ctr < 8 {
		config |= byte(ctr)
	} else {
		clen = byteLen(ctr)
		config |= 0x08 | byte(clen-1)
	}
	b = append(b, config)
	b = appendBE(b, kid, klen)
	return appendBE(b, ctr, clen)
}

func appendBE(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// ParseHeader decodes the SFrame header at the start of b and returns it with
// its encoded length. It rejects truncated input and encodings that are not
// minimal (a value below 8 in extended form, or a leading zero byte), since
// Section 4.3 says values MUST use the minimum number of bytes; this keeps the
// encoding canonical, so each (KID, CTR) has exactly one header.
func ParseHeader(b []byte) (Header, int, error) {
	if len(b) == 0 {
		return Header{}, 0, fmt.Errorf("%w: empty", ErrMalformedHeader)
	}
	config := b[0]
	off := 1
	kid, off, err := parseField(b, off, config>>7 == 1, (config>>4)&7, "KID")
	if err != nil {
		return Header{}, 0, err
	}
	ctr, off, err := parseField(b, off, (config>>3)&1 == 1, config&7, "CTR")
	if err != nil {
		return Header{}, 0, err
	}
	return Header{KID: KeyID(kid), CTR: Counter(ctr)}, off, nil
}

// parseField reads one compact integer: inline (extended false) or a
// big-endian value of field+1 bytes at b[off:].
func parseField(b []byte, off int, extended bool, field byte, name string) (uint64, int, error) {
	if !extended {
		return uint64(field), off, nil
	}
	n := int(field) + 1
	if len(b)-off < n {
		return 0, 0, fmt.Errorf("%w: %s needs %d bytes, %d left", ErrMalformedHeader, name, n, len(b)-off)
	}
	if b[off] == 0 {
		return 0, 0, fmt.Errorf("%w: %s has a leading zero byte", ErrMalformedHeader, name)
	}
	var v uint64
	for _, c := range b[off : off+n] {
		v = v<<8 | uint64(c)
	}
	if v < 8 {
		return 0, 0, fmt.Errorf("%w: %s %d must be inline", ErrMalformedHeader, name, v)
	}
	return v, off + n, nil
}
