package sframe

import (
	"fmt"
	"log/slog"
	"math"
	"sync"
)

// Sender encrypts frames under one KID and base key (RFC 9605, Section 4.4.3).
// Its counter starts at 0 and increases by one per frame; a counter value is
// never used twice (Section 9.1), and once every value has been used Encrypt
// fails with ErrCounterExhausted. A Sender is safe for concurrent use: the
// tracks of one participant share it, and with it one counter.
//
// A base key given to a Sender must not be used for encryption by anyone
// else under the same KID (Section 4.4.1).
type Sender struct {
	mu        sync.Mutex
	key       *keyState
	next      Counter
	exhausted bool
	hdr       [MaxHeaderSize]byte
}

// NewSender returns a Sender for kid whose keys derive from baseKey
// (Section 4.4.2). baseKey is not retained.
func NewSender(suite CipherSuite, kid KeyID, baseKey []byte) (*Sender, error) {
	k, err := newKeyState(suite, kid, baseKey)
	if err != nil {
		return nil, fmt.Errorf("sframe: sender kid %d: %w", kid, err)
	}
	return &Sender{key: k}, nil
}

// KID returns the sender's key ID.
func (s *Sender) KID() KeyID { return s.key.kid }

// Suite returns the sender's cipher suite.
func (s *Sender) Suite() CipherSuite { return s.key.suite }

// Encrypt appends header || ciphertext to dst (Section 4.4.3), authenticating
// metadata as well, and returns the extended slice. With cap(dst) at least
// len(dst)+len(plaintext)+Suite().Overhead() it allocates nothing. The bytes
// appended to dst must not overlap metadata or plaintext (ErrBufferOverlap).
func (s *Sender) Encrypt(dst, metadata, plaintext []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exhausted {
		return nil, fmt.Errorf("sframe: encrypt kid %d: %w", s.key.kid, ErrCounterExhausted)
	}
	ctr := s.next
	h := Header{KID: s.key.kid, CTR: ctr}
	hdr := h.AppendTo(s.hdr[:0])
	need := len(hdr) + len(plaintext) + s.key.aead.Overhead()
	ret, out := sliceForAppend(dst, need)
	if anyOverlap(out, plaintext) || anyOverlap(out, metadata) {
		return nil, fmt.Errorf("sframe: encrypt kid %d: %w", s.key.kid, ErrBufferOverlap)
	}
	copy(out, hdr)
	s.key.aead.Seal(out[len(hdr):len(hdr)], s.key.makeNonce(ctr), plaintext, s.key.makeAAD(hdr, metadata))
	if ctr == math.MaxUint64 {
		s.exhausted = true
	} else {
		s.next = ctr + 1
	}
	return ret, nil
}

// String describes the sender without key material.
func (s *Sender) String() string {
	return fmt.Sprintf("sframe.Sender{suite: %v, kid: %d}", s.key.suite, s.key.kid)
}

// LogValue keeps keys out of logs: only the suite and KID are shown.
func (s *Sender) LogValue() slog.Value {
	return slog.GroupValue(slog.String("suite", s.key.suite.String()), slog.Uint64("kid", uint64(s.key.kid)))
}
