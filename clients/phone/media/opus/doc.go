// Package opus wraps libopus (RFC 6716) through cgo for the phone gateway:
// a mono encoder and decoder at 48 kHz with 20 ms frames, and the decoder's
// packet loss concealment. No sound pure-Go Opus encoder exists; libopus is
// the reference implementation (Debian package libopus-dev to build,
// libopus0 to run).
//
// Packet bytes come from the network: they are passed to libopus with
// their length, which parses them within that bound (RFC 6716, Section 3.4
// lists the checks it performs). Output buffers are sized for the largest
// frame (120 ms) before the call, so libopus never writes past them.
//
// It holds only audio of a call; callers must never log it.
package opus
