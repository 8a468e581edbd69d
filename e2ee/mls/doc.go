// Package mls implements the Messaging Layer Security protocol, RFC 9420,
// for Conclave's end-to-end encrypted meetings.
//
// It covers the wire format (Sections 6, 7, 10, 12), the ratchet tree with
// tree hashes and parent hashes (Section 7), TreeKEM update paths
// (Section 7.4-7.6), message framing and protection (Section 6), the key
// schedule, secret tree, PSKs, exporter and epoch authenticator (Sections 8
// and 9, through package keyschedule), proposals and commits with full
// validation (Section 12), Welcome and external joins (Section 12.4.3), for
// all seven cipher suites of Section 17.1 (through package ciphersuite).
//
// The API is small: a KeyPackage built with NewKeyPackage, a Group created
// with CreateGroup, joined with JoinFromWelcome or JoinExternal, and driven
// with its methods. Randomness comes in as an io.Reader and time in a Config,
// so that every operation can be replayed deterministically.
//
// The library holds a member's private keys and group secrets. It performs no
// I/O, starts no goroutines and logs nothing; secrets are compared with
// crypto/subtle, and every failure to decrypt or authenticate is reported as
// the single opaque ErrAuthentication. Processing a message that fails any
// check leaves the Group unchanged.
package mls
