// Package jitter is the gateway's receive-side playout buffer for one RTP
// stream: it reorders packets by sequence number (RFC 3550, Section 5.1),
// estimates interarrival jitter (RFC 3550, Section 6.4.1 and Appendix A.8),
// holds enough packets to absorb it, and tells the caller which frames
// were lost so the codec can conceal them. Concealer is the concealment for
// codecs without their own (G.711, G.722): the last frame repeated with a
// fade, then silence (a simplification of G.711 Appendix I, which repeats
// pitch periods).
//
// It holds encoded and decoded audio of a call; never log it.
package jitter
