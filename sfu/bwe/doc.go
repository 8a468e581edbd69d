// Package bwe is the SFU's send-side bandwidth estimator for one subscriber
// transport: it numbers outgoing packets with transport-wide sequence
// numbers (draft-holmer-rmcat-transport-wide-cc-extensions-01, Section 2),
// remembers when each was sent, and reads the subscriber's transport-wide
// feedback (ibid., Section 3.1) to detect congestion the way Google
// Congestion Control does (draft-ietf-rmcat-gcc-02): a delay-based detector
// on the trend of inter-group delay variation, a loss-based one on the
// fraction of packets reported lost, and an estimate of the rate the
// subscriber actually received.
//
// It replaces pion/interceptor's twcc header-extension, cc and gcc
// interceptors on subscriber connections: those cost a map, a linked-list
// element and an interceptor attribute map per forwarded packet, which was
// about a sixth of the SFU's CPU under load (docs/benchmarks.md). Here a
// packet costs one lock, a counter and two stores into a ring.
//
// The estimator sees only sizes and timings of packets it sent, never their
// content.
package bwe
