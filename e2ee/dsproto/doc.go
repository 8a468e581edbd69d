// Package dsproto is the wire format of Conclave's MLS delivery service, the
// /e2ee WebSocket (docs/e2ee-protocol.md, "Messages"), protocol version 1.
//
// Every message is one binary WebSocket message:
//
//	uint8 version (= 1) || uint8 type || body
//
// The body is in the TLS presentation language with the variable-length
// vector headers of RFC 9420, Section 2.1.2 (minimal encoding required).
// Client-to-server types are 1 to 7, server-to-client types 64 to 73; the
// docs file gives each body. A message over MaxMessageSize, of another
// version, of an unknown type, with a field over its bound or with trailing
// bytes fails to decode (ErrTooLarge, ErrVersion, ErrUnknownType,
// ErrMalformed); the delivery service answers with an Error and closes the
// connection. Decoding never panics and bounds every length before using it.
//
// The package carries MLS messages as opaque bytes: it holds no keys and
// never looks inside a KeyPackage, commit, Welcome or application message.
// What it must never do: log, interpret or keep the content it carries.
package dsproto
