// Package session is the client side of a Conclave end-to-end encrypted
// meeting (docs/e2ee-protocol.md): one member's MLS group (RFC 9420), the
// admission of joiners by the link secret's proof or from the lobby, the
// deterministic committer, the SFrame keys of each epoch (RFC 9605,
// Section 5.2), the security code, and chat as MLS application messages.
//
// It is network-agnostic so that the Go bot, the phone gateway and the
// browser (compiled to WASM) share it: its inputs are the delivery
// service's messages (bytes of the /e2ee protocol) and the clock, its outputs
// are messages to send and Events. It starts no goroutines and reads no
// clock: time is a parameter of every call, and Deadline says when to call
// Tick.
//
// What it enforces, whatever the server does (DESIGN.md P1-P3):
//   - only Remove proposals of existing members from the delivery service
//     (external sender 0) are accepted from outside the group
//     (RFC 9420, Section 12.1.8); external commits are refused;
//   - a commit may add only members whose KeyPackage this client saw with a
//     valid admission proof or in the lobby; otherwise it is undone;
//   - a Welcome is accepted only for this client's KeyPackage; a joiner
//     holding the link secret then sends nothing until a member attests, with
//     a MAC keyed from the secret, that the group knows it (attest.go), so a
//     server forging a Welcome into a group of its own learns nothing;
//   - every credential is a ConclaveIdentity, and the roster is the tree.
//
// It holds the member's private keys, epoch secrets, media keys and chat
// plaintext; it must never log them, nor the link secret, nor the access
// tokens the DS refreshes (passed on as TokenRefreshed, never kept). Logs carry epochs,
// sizes and decisions only.
package session
