// Package vp8 reads the VP8 RTP payload descriptor (RFC 7741, Section 4.2)
// and the one payload-header bit that says whether a frame is a keyframe
// (RFC 7741, Section 4.3; RFC 6386, Section 9.1), which the SFU needs to
// switch simulcast layers and to resume a stream after dropping packets.
//
// It must never see more of a frame than the clear bytes the sender leaves
// readable: with SFrame (RFC 9605) every VP8 frame keeps at least its first
// byte in the clear, and that byte's lowest bit (P, the inverse key frame
// flag) is the only payload bit read here. Everything after it is opaque.
package vp8
