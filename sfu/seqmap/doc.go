// Package seqmap rewrites RTP sequence numbers and timestamps (RFC 3550,
// Section 5.1) for one outgoing stream that is fed, over time, from several
// incoming streams: the simulcast layers of one track, or one layer resumed
// after the SFU dropped packets. The subscriber sees a single stream whose
// sequence numbers have no gaps the SFU caused and whose timestamps advance
// with wall-clock time across switches.
//
// It also maps an outgoing sequence number back to the incoming stream and
// sequence number it came from, so that a subscriber's NACK can be answered
// from the SFU's packet cache. It never sees payloads.
package seqmap
