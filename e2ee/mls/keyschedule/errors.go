package keyschedule

import "errors"

// Errors returned by this package; test with errors.Is.
var (
	// ErrLeafOutOfRange means a leaf index is not in the secret tree.
	ErrLeafOutOfRange = errors.New("keyschedule: leaf index out of range")
	// ErrGenerationConsumed means the key for a generation was already used
	// and deleted, or evicted from the out-of-order window (RFC 9420,
	// Section 9.2).
	ErrGenerationConsumed = errors.New("keyschedule: generation already consumed or expired")
	// ErrGenerationTooFar means a generation lies further ahead of the
	// ratchet than the configured window allows (RFC 9420, Section 15.4).
	ErrGenerationTooFar = errors.New("keyschedule: generation too far ahead")
	// ErrGenerationExhausted means a sending ratchet has used all 2^32
	// generations.
	ErrGenerationExhausted = errors.New("keyschedule: ratchet generations exhausted")
	// ErrTooManyPSKs means more PSKs than PSKLabel's uint16 count can carry.
	ErrTooManyPSKs = errors.New("keyschedule: too many PSKs")
	// ErrSecretSize means an input secret does not have the suite's KDF.Nh
	// length.
	ErrSecretSize = errors.New("keyschedule: secret has wrong length")
)
