// Package sfu is Conclave's forwarding plane: it receives each publisher's
// RTP streams on a pion PeerConnection and forwards them, rewritten only in
// their RTP headers, to every subscriber's PeerConnection.
//
// What it implements:
//   - one UDP port for all ICE traffic (ICE UDP mux) and one TCP port as a
//     fallback (ICE-TCP, RFC 6544), plus an embedded TURN server (package
//     sfu/turn) with short-lived credentials;
//   - Opus and VP8 with up to three simulcast layers (RFC 8853, rids q/h/f),
//     the layer chosen per subscriber (package sfu/simulcast) and switched
//     only on a keyframe, with sequence numbers and timestamps rewritten
//     across switches (package sfu/seqmap, RFC 3550 Section 5.1);
//   - NACK (RFC 4585, Section 6.2.1) towards publishers, and answers to
//     subscribers' NACKs from a packet cache (package sfu/packetcache); RTX
//     (RFC 4588) from publishers is unwrapped by pion;
//   - PLI and FIR (RFC 4585 Section 6.3.1, RFC 5104 Section 4.3.1) relayed to
//     publishers when a subscriber needs a keyframe or switches layer;
//   - RTCP receiver reports and transport-wide congestion control feedback
//     (draft-holmer-rmcat-transport-wide-cc-extensions-01) to publishers
//     (pion/interceptor's report and twcc packages); towards subscribers the
//     down tracks write transport-wide sequence numbers and sender reports
//     (RFC 3550, Section 6.4.1) themselves, and package sfu/bwe estimates
//     each subscriber's bandwidth from its feedback (GCC's delay and loss
//     detectors, draft-ietf-rmcat-gcc-02), without a per-packet interceptor
//     chain;
//   - the audio level of each audio stream from its RTP header extension
//     (RFC 6464), for speaker detection.
//
// What it must never see: media content. Payloads are opaque bytes, usually
// SFrame ciphertext (RFC 9605). The only payload bits read are the VP8
// payload descriptor and the inverse keyframe flag of the frame's first byte
// (package sfu/vp8), which senders leave in the clear for that purpose.
//
// Forwarding never blocks on a slow subscriber. A publisher's reader writes
// each packet to its UDP subscribers itself; a subscriber over ICE-TCP, or
// with a backlog, gets a bounded queue; when it overflows, audio packets are
// dropped and video is dropped up to the next keyframe, which is requested
// from the publisher.
package sfu
