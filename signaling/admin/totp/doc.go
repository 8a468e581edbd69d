// Package totp implements time-based one-time passwords, the second factor
// of admin logins: HOTP (RFC 4226, Section 5) over a time-step counter
// (RFC 6238, Section 4), with the defaults every authenticator app uses
// (HMAC-SHA-1, 6 digits, 30-second steps). Conclave never uses SMS as a
// factor (DESIGN.md P7).
//
// What it must never see logged: the shared secret or a code.
package totp
