// Package g722 implements ITU-T G.722 (09/2012) 7 kHz audio coding within
// 64 kbit/s: sub-band adaptive differential PCM (SB-ADPCM) at 16 kHz
// sampling, mode 1 (64 kbit/s, 6 bits for the lower band, 2 for the upper).
//
// It is written from the recommendation's block descriptions: the 24-tap
// quadrature mirror filters (Section 3.1/4.4, Table 11), the lower sub-band
// encoder and decoder (Sections 3.3-3.6, 4.2: blocks QUANTL, INVQAL,
// INVQBL, LOGSCL, SCALEL), the higher sub-band (Sections 3.7, 4.3: QUANTH,
// INVQAH, LOGSCH, SCALEH), and the adaptive predictor shared by both
// (Section 3.6: PARREC, RECONS, UPPOL1, UPPOL2, UPZERO, DELAYA, FILTEP,
// FILTEZ, PREDIC). Quantizer tables are Tables 6-9 and 14-17.
//
// The RTP payload format is RFC 3551, Section 4.5.2: one octet per pair of
// 16 kHz samples, with an RTP clock rate of 8000 Hz (an error in RFC 1890
// kept for compatibility).
//
// It holds only audio samples of a call; callers must never log them.
package g722
