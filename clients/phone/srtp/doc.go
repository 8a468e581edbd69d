// Package srtp negotiates SRTP keys with SDP Security Descriptions (SDES,
// RFC 4568): it parses and writes the a=crypto attribute (Section 9.1),
// picks a crypto suite the gateway supports (Section 6.2, and RFC 7714,
// Section 14.2 for AES-GCM), generates the gateway's own master key, and
// builds pion/srtp contexts that protect what the gateway sends and check
// and decrypt what it receives, with replay protection (RFC 3711,
// Section 3.3.2).
//
// SDES sends keys in the SDP, so they are only as secret as the SIP
// signalling: the gateway offers and accepts SDES only over SIP TLS unless
// configured otherwise, and that is a property of the caller's link to the
// gateway, not of the meeting (whose end-to-end encryption ends at the
// gateway; DESIGN.md P4).
//
// It holds SRTP master keys: never log a Crypto or a context.
package srtp
