// Package stream runs the media of one phone call: RTP in and out over
// UDP (RFC 3550), optionally protected with SRTP (RFC 3711, keyed by SDES),
// the negotiated codec (G.711, G.722, Opus) with resampling to and from the
// gateway's 48 kHz, a jitter buffer with loss concealment, and RFC 4733
// telephone-events turned into digits.
//
// Every 20 ms it hands the caller's decoded audio to an uplink function and
// asks a downlink function for the audio to send; what those are (prompts,
// the meeting's mix) is the gateway's business.
//
// Packets are accepted only from the address the phone's SDP named, or,
// for phones behind NAT, from the first address that sent a packet that
// parsed (and, with SRTP, authenticated) — symmetric RTP. Every received
// datagram is bounded (1500 bytes) and parsed without panicking (fuzzed).
//
// It handles call audio and digits: never log them.
package stream
