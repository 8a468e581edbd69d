// Package tls implements the TLS presentation language encoding used by MLS
// (RFC 9420, Section 2.1, which builds on RFC 8446, Section 3), including the
// MLS variable-length integer of RFC 9420, Section 2.1.2 and optional<T> of
// Section 2.1.1.
//
// A Writer appends big-endian integers, varint-length-prefixed vectors and
// optional values to one growing buffer. A Reader decodes the same from
// untrusted bytes: every read is bounds-checked, lengths are checked against
// both a caller-supplied maximum and the remaining input before anything is
// allocated, and no input makes it panic.
//
// The package is pure: no I/O, goroutines, logging or global state. It sees
// the serialized bytes of MLS objects, which may include secrets (for example
// GroupSecrets before encryption); it never retains or prints them.
package tls
