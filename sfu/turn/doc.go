// Package turn runs the embedded TURN server (RFC 8656) that lets clients
// behind restrictive NATs and firewalls reach the SFU, on UDP and TCP.
//
// Credentials are short-lived and need no state: a username is
// "<expiry unix time>:<label>" and its password the base64 HMAC-SHA1 of the
// username under a secret only this process knows (the scheme of the
// "TURN REST API" draft, draft-uberti-behave-turn-rest-00, Section 2.2, that
// coturn calls use-auth-secret). The relay only forwards to the SFU's own
// addresses, so it cannot be used to reach other hosts.
//
// It relays opaque, DTLS-SRTP protected packets and never sees media.
package turn
