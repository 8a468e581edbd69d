// Package bot is a Go meeting participant that speaks exactly what a browser
// running the stock livekit-client SDK speaks, so that tests, load tests and
// gateways exercise the server the way real users do.
//
// A Bot joins from a meeting link (HTTP POST /api/join, then the signal
// WebSocket) or from a (url, token) pair, and then:
//
//   - speaks the LiveKit signal protocol, version 17, over WebSocket at /rtc
//     (join, dual peer connections with a client-offered publisher and a
//     server-offered subscriber, trickle ICE, add track, track settings,
//     ping/pong, leave, and resume with reconnect=1 after the socket is cut);
//   - publishes synthetic Opus audio (20 ms frames) and VP8 video in three
//     simulcast layers (rids q, h, f) at realistic sizes and rates, answering
//     PLI and FIR with a keyframe on the layer asked for;
//   - subscribes to every other participant and measures what arrives:
//     frames, decrypt failures, loss, end-to-end latency, layer and
//     join-to-first-frame.
//
// A gateway uses the same participant with real audio (see gateway.go):
// Config.Member makes its MLS credential say it is a phone gateway and which
// phone it carries, Config.AudioSource supplies its Opus frames (nil:
// muted, nothing sent), Config.AudioSink receives the other members'
// decrypted Opus frames with the sender's identity, and JoinRoom knocks on
// a room without the link secret. Reports list the phone gateways in the
// roster (phone_members), and a bot creating a meeting can forbid phones
// (E2EEOptions.ForbidPhones, a group context extension of e2ee/session).
//
// Every frame's plaintext carries a marker, a sequence number and a send
// timestamp (see Payload). Frames are end-to-end encrypted with SFrame
// (RFC 9605) by a FrameCipher before they reach the network; only the codec
// bytes that the SFU needs stay in the clear (the VP8 payload header of
// RFC 6386 Section 9.1 and the Opus TOC byte of RFC 6716 Section 3.1, as
// listed in THREAT_MODEL.md). The SFrame keys come from the meeting's MLS
// group (RFC 9605, Section 5.2), which the bot joins over the /e2ee delivery
// service with package e2ee/session (see E2EE): the link's fragment secret
// only proves to the members that the bot may be admitted, and a bot without
// it (--secret-less) waits in the lobby. Chat is sent and received as MLS
// application messages.
//
// A new epoch's first frames can reach a receiver before the commit that
// creates the epoch (media crosses the SFU over UDP, the commit the
// delivery service over a WebSocket). As RFC 9605, Section 4.4.4 allows,
// a received track holds such frames (at most 64, for at most 500 ms) and
// decrypts them once the epoch's key is installed; reports count them as
// frames_held (and frames_held_dropped when the key never came), not as
// decrypt failures. E2EE.EpochHistory records each epoch's roster and
// first decrypted frame, from which the load tester measures key-rotation
// latency.
//
// The package must never log or report keys, link secrets, access tokens or
// frame contents. It holds no global state: many bots can share one process
// (see NewAPI for the shared pion API), each bot's goroutines are owned by
// that bot and end when it is closed or its context is cancelled.
package bot
