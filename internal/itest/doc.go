// Package itest holds the cross-package integration tests of the Foundation
// work: a whole Conclave server (HTTP API, /rtc signaling, SFU) on loopback,
// driven by Go bots (clients/bot) that speak what a browser speaks. It has no
// non-test code beyond this comment; run it with `go test ./internal/itest/`.
//
// The tests send traffic only to 127.0.0.1, with bounded counts and
// durations, and wait on conditions with deadlines, never on bare sleeps.
package itest
