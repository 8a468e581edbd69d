package sframe

import (
	"fmt"
	"log/slog"
	"sync"
)

// Defaults of a Receiver; see the options to change them.
const (
	// DefaultReplayWindow is how many counters behind the highest accepted
	// one a frame may arrive and still be accepted once. One counter is
	// shared by all of a participant's tracks, so audio and video frames
	// interleave; 1024 frames is over ten seconds of reordering.
	DefaultReplayWindow = 1024
	// DefaultMaxCounterJump is how far ahead of the highest accepted counter
	// a frame may be: 2^24 frames is about two days at 100 frames/s, far more
	// than any real gap, far less than the 2^64 counter space.
	DefaultMaxCounterJump = 1 << 24
	// DefaultMaxKeys bounds the keys a receiver holds.
	DefaultMaxKeys = 4096
)

// ReceiverOption changes a Receiver default.
type ReceiverOption func(*receiverConfig) error

type receiverConfig struct {
	window, maxJump uint64
	maxKeys         int
}

// WithReplayWindow sets the replay window in frames: a multiple of 64 from
// 64 to 65536.
func WithReplayWindow(n int) ReceiverOption {
	return func(c *receiverConfig) error {
		if n < 64 || n > 1<<16 || n%64 != 0 {
			return fmt.Errorf("sframe: replay window %d: want a multiple of 64 in [64, 65536]", n)
		}
		c.window = uint64(n)
		return nil
	}
}

// WithMaxCounterJump sets how far ahead of the highest accepted counter of a
// KID a frame's counter may be (at least 1).
func WithMaxCounterJump(n uint64) ReceiverOption {
	return func(c *receiverConfig) error {
		if n == 0 {
			return fmt.Errorf("sframe: max counter jump must be positive")
		}
		c.maxJump = n
		return nil
	}
}

// WithMaxKeys bounds how many KIDs the receiver holds keys for (at least 1).
func WithMaxKeys(n int) ReceiverOption {
	return func(c *receiverConfig) error {
		if n < 1 {
			return fmt.Errorf("sframe: max keys must be positive")
		}
		c.maxKeys = n
		return nil
	}
}

// baseKeySource finds the base key for a KID the receiver has no key for
// yet, and the group (for example the MLS epoch) the derived key belongs to,
// so that retiring the group drops its keys.
type baseKeySource func(kid KeyID) (baseKey []byte, group uint64, ok bool)

// recvKey is one KID's receiving state. mu guards key (its scratch space)
// and window.
type recvKey struct {
	mu      sync.Mutex
	key     *keyState
	window  replayWindow
	group   uint64
	derived bool // came from the source, not from AddKey
}

// Receiver decrypts frames from any number of senders (RFC 9605, Section
// 4.4.4), holding one key and one replay window per KID. Keys come from
// AddKey, or, for receivers built by NewMLSReceiver,
// are derived on first use from a base key and cached. A Receiver is safe for
// concurrent use; frames of different KIDs decrypt in parallel.
type Receiver struct {
	suite  CipherSuite
	cfg    receiverConfig
	source baseKeySource // nil: only keys from AddKey

	mu   sync.Mutex
	keys map[KeyID]*recvKey
}

// NewReceiver returns a Receiver for suite with no keys.
func NewReceiver(suite CipherSuite, opts ...ReceiverOption) (*Receiver, error) {
	if !suite.Valid() {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedSuite, suite)
	}
	cfg := receiverConfig{window: DefaultReplayWindow, maxJump: DefaultMaxCounterJump, maxKeys: DefaultMaxKeys}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return &Receiver{suite: suite, cfg: cfg, keys: make(map[KeyID]*recvKey)}, nil
}

// Suite returns the receiver's cipher suite.
func (r *Receiver) Suite() CipherSuite { return r.suite }

// AddKey installs (or replaces) the base key for kid. Replacing a key resets
// its replay window. baseKey is not retained.
func (r *Receiver) AddKey(kid KeyID, baseKey []byte) error {
	k, err := newKeyState(r.suite, kid, baseKey)
	if err != nil {
		return fmt.Errorf("sframe: receiver kid %d: %w", kid, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys[kid]; !ok && len(r.keys) >= r.cfg.maxKeys {
		return fmt.Errorf("sframe: receiver kid %d: %w", kid, ErrTooManyKeys)
	}
	r.keys[kid] = &recvKey{key: k, window: newReplayWindow(r.cfg.window, r.cfg.maxJump)}
	return nil
}

// RemoveKey forgets kid's key and replay state.
func (r *Receiver) RemoveKey(kid KeyID) {
	r.mu.Lock()
	delete(r.keys, kid)
	r.mu.Unlock()
}

// dropGroup forgets every derived key of group.
func (r *Receiver) dropGroup(group uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for kid, k := range r.keys {
		if k.derived && k.group == group {
			delete(r.keys, kid)
		}
	}
}

// Decrypt authenticates and decrypts an SFrame ciphertext (header ||
// ciphertext) with metadata, appends the plaintext to dst and returns the
// extended slice (RFC 9605, Section 4.4.4). Decrypting in place is allowed
// when the appended plaintext starts exactly at the ciphertext, i.e. dst is
// frame[:n] where n is the header length; any other overlap is refused.
//
// Errors: ErrMalformedHeader, ErrShortFrame, ErrUnknownKey (the caller may
// keep the frame until a key arrives, Section 4.4.4), ErrReplay,
// ErrCounterRange, ErrAuth (one opaque error for every authentication
// failure), ErrBufferOverlap, ErrTooManyKeys. A frame is accepted into the
// replay window only after it authenticates.
func (r *Receiver) Decrypt(dst, metadata, frame []byte) ([]byte, error) {
	h, n, err := ParseHeader(frame)
	if err != nil {
		return nil, err
	}
	ct := frame[n:]
	if len(ct) < r.suite.TagSize() {
		return nil, fmt.Errorf("%w: %d bytes after the header", ErrShortFrame, len(ct))
	}
	r.mu.Lock()
	k, ok := r.keys[h.KID]
	if !ok {
		// Derivation happens under r.mu so that two first frames of one KID
		// cannot create two replay windows; it is rare (once per KID).
		defer r.mu.Unlock()
		k, err = r.deriveLocked(h.KID)
		if err != nil {
			return nil, err
		}
		out, err := r.open(k, h, frame[:n], ct, dst, metadata)
		if err != nil {
			return nil, err
		}
		if len(r.keys) >= r.cfg.maxKeys {
			return nil, fmt.Errorf("sframe: decrypt kid %d: %w", h.KID, ErrTooManyKeys)
		}
		// Cache the key only now that a frame authenticated under it, so
		// frames with made-up KIDs cannot fill the table.
		r.keys[h.KID] = k
		return out, nil
	}
	r.mu.Unlock()
	return r.open(k, h, frame[:n], ct, dst, metadata)
}

// deriveLocked builds the receiving state for kid from r.source.
func (r *Receiver) deriveLocked(kid KeyID) (*recvKey, error) {
	if r.source == nil {
		return nil, fmt.Errorf("sframe: decrypt kid %d: %w", kid, ErrUnknownKey)
	}
	base, group, ok := r.source(kid)
	if !ok {
		return nil, fmt.Errorf("sframe: decrypt kid %d: %w", kid, ErrUnknownKey)
	}
	ks, err := newKeyState(r.suite, kid, base)
	if err != nil {
		return nil, fmt.Errorf("sframe: decrypt kid %d: %w", kid, err)
	}
	return &recvKey{key: ks, window: newReplayWindow(r.cfg.window, r.cfg.maxJump), group: group, derived: true}, nil
}

// open checks the replay window, decrypts and, on success, records the
// counter.
func (r *Receiver) open(k *recvKey, h Header, header, ct, dst, metadata []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.window.check(h.CTR); err != nil {
		return nil, fmt.Errorf("sframe: decrypt kid %d: %w", h.KID, err)
	}
	ret, out := sliceForAppend(dst, len(ct)-r.suite.TagSize())
	if inexactOverlap(out, ct) || anyOverlap(out, metadata) || anyOverlap(out, header) {
		return nil, fmt.Errorf("sframe: decrypt kid %d: %w", h.KID, ErrBufferOverlap)
	}
	if _, err := k.key.aead.Open(out[:0], k.key.makeNonce(h.CTR), ct, k.key.makeAAD(header, metadata)); err != nil {
		return nil, fmt.Errorf("sframe: decrypt kid %d: %w", h.KID, ErrAuth)
	}
	k.window.accept(h.CTR)
	return ret, nil
}

// String describes the receiver without key material.
func (r *Receiver) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("sframe.Receiver{suite: %v, keys: %d}", r.suite, len(r.keys))
}

// LogValue keeps keys out of logs: only the suite and the number of keys.
func (r *Receiver) LogValue() slog.Value {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slog.GroupValue(slog.String("suite", r.suite.String()), slog.Int("keys", len(r.keys)))
}
