// Command wasm is the browser entry of package conclave/e2ee/mls, built
// with GOOS=js GOARCH=wasm. It installs one global object, conclaveMLS,
// whose functions create KeyPackages and groups, commit, process messages,
// join from a Welcome or with an external commit, and expose the exporter,
// the epoch authenticator and the roster (RFC 9420 via package mls).
//
// Bytes cross the boundary as Uint8Array. Groups live in a table owned by
// main and are named by integer handles; save(handle) returns the versioned
// state to keep across reloads, load(bytes) restores it. A call that fails returns (rather than
// throws) a JavaScript Error carrying the Go error text, which names the RFC rule
// that failed and never contains key material.
//
// Every client built from it refuses external proposals other than Remove
// of an existing member (mls.AllowExternalRemoveOnly), as Conclave requires.
// The entry holds members' private keys and group secrets in the page's
// memory; it performs no I/O.
package main
