package tls

import "errors"

// Errors returned by Reader and Writer. Every decoding error wraps one of
// them, so callers can classify failures with errors.Is.
var (
	// ErrTruncated means the input ended before the value being read.
	ErrTruncated = errors.New("tls: input truncated")
	// ErrVarintPrefix means a variable-length integer started with the
	// reserved prefix 0b11 (RFC 9420, Section 2.1.2).
	ErrVarintPrefix = errors.New("tls: invalid variable-length integer prefix")
	// ErrVarintNotMinimal means a variable-length integer did not use the
	// smallest encoding for its value (RFC 9420, Section 2.1.2).
	ErrVarintNotMinimal = errors.New("tls: variable-length integer not minimally encoded")
	// ErrVarintRange means a value too large for a variable-length integer
	// (more than 2^30-1) was written.
	ErrVarintRange = errors.New("tls: value too large for variable-length integer")
	// ErrTooLong means a vector's length exceeded the maximum the caller
	// allows for that field.
	ErrTooLong = errors.New("tls: vector longer than allowed")
	// ErrOptionalPresence means an optional<T> presence octet was neither 0
	// nor 1 (RFC 9420, Section 2.1.1).
	ErrOptionalPresence = errors.New("tls: invalid optional presence octet")
	// ErrBool means a boolean octet was neither 0 nor 1 (RFC 8446, Section 3.7
	// defines bool as an enum of false(0) and true(1)).
	ErrBool = errors.New("tls: invalid boolean octet")
	// ErrTrailingData means bytes remained after a value that must consume
	// its whole input.
	ErrTrailingData = errors.New("tls: trailing data after value")
)
