// Command wasm is the browser entry of package conclave/e2ee/session, built
// with GOOS=js GOARCH=wasm into the web bundle (web/build.mjs). It installs
// one global object, conclaveSession, through which the page runs its member
// of the meeting's MLS group (docs/e2ee-protocol.md, "Client behaviour"):
//
//	create({participant, displayName, kind, detail, roomId, secret, forbidPhones, log}) -> handle
//	restore(config, savedBytes, nowMs) -> handle
//	start(h, nowMs) / handle(h, dsMessage, nowMs) / tick(h, nowMs) -> Output
//	deadline(h) -> ms since 1970 (0: only on input)
//	admit(h, ref, nowMs) / refuse(h, ref) -> Output
//	sendChat(h, text) / sendStatus(h, "hand"|"recording", on) -> Output
//	phonesForbidden(h) -> boolean (the group context's 0xF0C1 extension)
//	save(h) -> Uint8Array; close(h)
//
// Output is {send: [Uint8Array], events: [Event], error?: string}: send
// the messages to /e2ee in order, show the events. Events are plain objects
// with a "type": "epoch" (epoch, securityCode, baseKey, leaf, canSend),
// "roster", "lobby", "lobbyStatus", "chat" (from, epoch, text, and late:
// sealed in an epoch before the current one and delivered after the commit
// that ended it), "status", "rejected", "removed", "serverError", "token"
// (token: a fresh access token the DS sent; the page opens its next /e2ee
// WebSocket with the latest one).
//
// The session itself performs no I/O and reads no clock; the page owns the
// WebSocket and the timer. Bytes cross as Uint8Array. A call that fails
// returns (never throws) a JavaScript Error, since a Go panic inside a
// js.Func would stop the module.
//
// The entry holds the member's private keys, epoch secrets and chat
// plaintext in the page's memory. The "epoch" event carries the epoch's
// SFrame base key (RFC 9605, Section 5.2) for the page to import as a
// non-extractable CryptoKey and hand to the SFrame worker, then erase; it
// never logs keys, the link secret, access tokens or content.
package main
