// Package packetcache keeps the most recent RTP packets of one incoming
// stream in fixed slots indexed by sequence number, so that the SFU can
// answer a subscriber's NACK (RFC 4585, Section 6.2.1) without asking the
// publisher again.
//
// It stores packets as opaque bytes: it never looks inside a payload, which
// may be SFrame ciphertext (RFC 9605).
package packetcache
