// Package sdp does the gateway's side of the SDP offer/answer model
// (RFC 3264) for one audio stream: it reads a phone's offer (RFC 8866 via
// pion/sdp), picks a codec (G.711 μ-law and A-law, G.722, Opus; RFC 3551
// static payload types and RFC 7587 for Opus), the RFC 4733
// telephone-event payload type and, for RTP/SAVP, an SDES crypto
// attribute, and writes the answer.
//
// Offers come from the network: their size is bounded before parsing and
// every field used is checked.
package sdp
