// Package g711 implements the ITU-T G.711 (11/1988) pulse code modulation
// of voice frequencies: the μ-law and A-law companding of 16-bit linear PCM
// to 8-bit codes, as RTP payload types 0 (PCMU) and 8 (PCMA) of RFC 3551,
// Section 4.5.14.
//
// Encoding follows the segment/step structure of G.711 Tables 1a/2a
// (A-law) and 1b/2b (μ-law), written from those tables; decoding returns
// the tables' reconstruction values scaled to 16 bits (A-law's 13-bit and
// μ-law's 14-bit values shifted left by 3 and 2 bits).
//
// It holds only audio samples of a call; callers must never log them.
package g711
