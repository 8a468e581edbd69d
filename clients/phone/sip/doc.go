// Package sip holds the gateway's SIP policy, apart from the sipgo
// transport: who may call (digest authentication of desk phones, RFC 3261
// Section 22 with RFC 8760's SHA-256; address allow-lists for trunks), the
// stateless nonces of challenges, and the limit on new calls per source
// address that keeps an INVITE flood from harming calls in progress.
//
// How desk phone credentials are stored, and why not as "hashes": digest
// authentication proves knowledge of H(user:realm:password) (HA1). Any
// value from which the server can check a digest response lets whoever
// holds it answer challenges too, so an HA1 table is a password table,
// and a slow salted hash (argon2id) of the password cannot be used to
// check a digest at all. We therefore store no per-phone secret: the
// credentials file lists user names and a generation counter only, and
// each phone's password is derived when needed as
//
//	password = base32(HMAC-SHA256(K, "conclave sip password v1" || 0 || user || 0 || generation))[:26]
//
// from the gateway key K (a 32-byte 0600 file, see Keys). The passwords
// are random-looking 130-bit strings no human chose, so a leaked one
// reveals no reused password and cannot be guessed; a stolen credentials
// file is useless without K; resetting a phone bumps its generation.
// The honest cost: K is a password-equivalent for every phone, exactly as
// an HA1 table would be. Desk phones that support it should use SIP over
// TLS, and trunks should be allow-listed by address and reached over TLS
// or a private network.
//
// It must never log passwords, keys, nonces' MACs or Authorization
// headers.
package sip
