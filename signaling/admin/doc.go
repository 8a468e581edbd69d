// Package admin is the admin side of `conclave serve` and `conclave admin`:
// an HTTP API on its own listener, the credentials that open it, and the
// CLI. Admins run the service, not the meeting (DESIGN.md P7): the powers
// are to list meetings (room key, node, participant count, duration), end a
// meeting, remove a participant, drain a node and rotate keys. There is no
// power to add anyone to a meeting or to read anything of it. Every action,
// refused ones included, goes to the audit log (package audit); an action
// that changes something is written there before it takes effect, and is
// not taken if it cannot be.
//
// Credentials: API keys ("ck_<id>_<secret>", 256-bit secrets stored only as
// SHA-256, each with scopes and an expiry, revocable), or admin passwords
// (argon2id, RFC 9106) with a TOTP second factor (RFC 6238, package totp);
// never SMS. Logins are rate-limited per source address and per admin name,
// and a TOTP code is accepted once.
//
// Removing a participant goes through cluster.Remover, which the E2EE
// delivery service provides as an MLS Remove proposal that every member
// sees (RFC 9420, Section 12.1.3), then disconnects it from the media room.
// Where no Remover is wired, removal only disconnects the participant from
// the media room, and a participant who still holds the meeting link can
// join again.
//
// What it must never see or log: API key secrets, passwords, TOTP secrets or
// codes, session tokens, room IDs, display names, content.
package admin
