// Package rtctest stands up the /rtc handler with an SFU engine on loopback
// for tests, and provides a minimal Go signal client (pion PeerConnections
// speaking the LiveKit signal protocol the way livekit-client does) that
// publishes synthetic Opus and VP8 simulcast and counts what it receives.
// NewEngine starts an SFU engine for a test that wires its own handler.
//
// Payloads it sends are random bytes behind a valid VP8 payload descriptor
// and keyframe bit: the SFU must treat them as opaque.
package rtctest
