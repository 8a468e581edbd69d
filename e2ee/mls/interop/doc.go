// Package interop runs ts-mls, an independent TypeScript implementation of
// RFC 9420, under Node as a peer for interoperability tests of package
// conclave/e2ee/mls. Peer starts driver.mjs (in this folder) and speaks its
// JSON-lines protocol: each request names a client held by the driver and an
// operation (key package, create group, add, remove, commit, process, join
// from Welcome, export, epoch authenticator, roster), and every MLS object
// crosses the pipe as a serialized MLSMessage, as it would on the wire.
//
// Only tests use this package. It starts one Node process per Peer, which
// Close ends; Start installs the npm dependencies pinned in package-lock.json
// (npm ci) when they are missing. It sees the MLS messages of test groups and
// the secrets exported from them, never real users' keys.
package interop
