package sframe

import "errors"

// Sentinel errors. Callers branch on them with errors.Is; every error this
// package returns wraps exactly one of them.
var (
	// ErrMalformedHeader: the SFrame header (RFC 9605, Section 4.3) is
	// truncated or not minimally encoded.
	ErrMalformedHeader = errors.New("sframe: malformed header")
	// ErrShortFrame: the ciphertext is shorter than the suite's tag, or a
	// codec frame is shorter than its clear prefix.
	ErrShortFrame = errors.New("sframe: frame too short")
	// ErrUnknownKey: no key is installed (or derivable) for the frame's KID.
	// RFC 9605, Section 4.4.4 allows buffering such a frame until a key
	// arrives; every other decryption failure must discard the frame.
	ErrUnknownKey = errors.New("sframe: unknown key")
	// ErrAuth is the single opaque error for a frame that fails
	// authentication. It deliberately says nothing about why.
	ErrAuth = errors.New("sframe: authentication failed")
	// ErrReplay: the frame's counter was already accepted under its KID, or
	// is older than the replay window.
	ErrReplay = errors.New("sframe: replayed or too old")
	// ErrCounterRange: the frame's counter is further ahead of the highest
	// accepted counter for its KID than the receiver allows.
	ErrCounterRange = errors.New("sframe: counter out of range")
	// ErrCounterExhausted: the sender has used every counter value for its
	// key (RFC 9605, Section 9.1 forbids reuse); it needs a new key.
	ErrCounterExhausted = errors.New("sframe: counter exhausted")
	// ErrUnsupportedSuite: the cipher suite is not one of RFC 9605, Section 4.5.
	ErrUnsupportedSuite = errors.New("sframe: unsupported cipher suite")
	// ErrBadKey: a base key or secret has the wrong length.
	ErrBadKey = errors.New("sframe: bad key")
	// ErrBufferOverlap: the output buffer partially overlaps an input.
	ErrBufferOverlap = errors.New("sframe: output buffer overlaps input")
	// ErrTooManyKeys: the receiver's key table is full.
	ErrTooManyKeys = errors.New("sframe: too many keys")
	// ErrBadLayout: an MLS KID layout or a value that does not fit it.
	ErrBadLayout = errors.New("sframe: bad KID layout")
)
