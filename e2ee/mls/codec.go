package mls

import (
	"errors"
	"fmt"

	"conclave/e2ee/mls/internal/tls"
)

// Bounds applied while decoding untrusted bytes, before anything is
// allocated. The tls Reader also never allocates more than the input holds;
// these limits reject absurd fields early with a clear error.
const (
	maxKeyLen     = 1 << 10 // HPKE and signature public keys, hashes, MACs, nonces, signatures
	maxSmallVec   = 1 << 16 // capability lists, extension lists, identities, authenticated data
	maxLargeVec   = tls.MaxVarint
	maxListLength = 1 << 16 // elements in lists of structs (proposals, secrets, senders)
)

// marshaler and unmarshaler are the package's wire codecs. They are
// unexported so that the internal tls package does not leak into the API.
type marshaler interface{ marshal(w *tls.Writer) }

type unmarshaler interface {
	unmarshal(r *tls.Reader) error
}

// encode returns the TLS presentation encoding of m (RFC 9420, Section 2.1).
func encode(m marshaler) ([]byte, error) {
	var w tls.Writer
	m.marshal(&w)
	b, err := w.Bytes()
	if err != nil {
		return nil, fmt.Errorf("mls: encode: %w", err)
	}
	return b, nil
}

// mustEncode encodes values the package built itself, whose fields are
// bounded far below the 2^30-byte varint limit. An error here would mean a
// bug; it is reported as an empty encoding that no peer accepts, never a panic.
func mustEncode(m marshaler) []byte {
	b, err := encode(m)
	if err != nil {
		return nil
	}
	return b
}

// decode decodes all of b into u, failing on trailing bytes.
func decode(b []byte, u unmarshaler) error {
	r := tls.NewReader(b)
	if err := u.unmarshal(r); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

var errNoProgress = errors.New("element of zero length")

// readList decodes a vector<V> of elements, calling each until the vector's
// body is consumed. It bounds the body to maxBytes and the element count to
// maxListLength.
func readList(r *tls.Reader, maxBytes int, each func(r *tls.Reader) error) error {
	body, err := r.Vector(maxBytes)
	if err != nil {
		return err
	}
	for n := 0; !body.Empty(); n++ {
		if n >= maxListLength {
			return fmt.Errorf("list of more than %d elements", maxListLength)
		}
		before := body.Offset()
		if err := each(body); err != nil {
			return err
		}
		if body.Offset() == before {
			return errNoProgress
		}
	}
	return nil
}

// writeList writes a vector<V> whose elements are written by each.
func writeList[T any](w *tls.Writer, xs []T, each func(w *tls.Writer, x T)) {
	w.Vector(func(w *tls.Writer) {
		for _, x := range xs {
			each(w, x)
		}
	})
}

func readUint16List(r *tls.Reader) ([]uint16, error) {
	var out []uint16
	err := readList(r, maxSmallVec, func(r *tls.Reader) error {
		v, err := r.Uint16()
		out = append(out, v)
		return err
	})
	return out, err
}

func writeUint16List[T ~uint16](w *tls.Writer, xs []T) {
	writeList(w, xs, func(w *tls.Writer, x T) { w.Uint16(uint16(x)) })
}
