// Package phone is the Conclave phone gateway (`conclave phone`): desk
// phones and PBX trunks call it over SIP (UDP, TCP, TLS; sipgo), enter a
// meeting's dial-in code by DTMF, wait in the meeting's lobby while the
// members decide, and once admitted talk and listen through a gateway
// member of the meeting's MLS group.
//
// Where end-to-end encryption ends (DESIGN.md P4): the gateway decrypts the
// members' audio for the phone and encrypts the phone's audio for them, so
// it sees the audio of every meeting it carries a call into. It is
// therefore a labelled member ("Phone caller (IDENTITY), via gateway
// NAME", kind phone gateway) that members must admit; it never holds a
// meeting link's secret, so it can only knock. It records nothing and
// stores nothing of a call; logs carry call setup metadata (transport,
// codec, SRTP or not, durations, SIP status codes) and never audio, DTMF
// digits, dial-in codes, room IDs or credentials.
//
// A call: INVITE (digest-authenticated desk phone, or a trunk on the
// allow-list; new INVITEs limited per source address) -> 200 OK with the
// SDP answer (Opus, G.722, PCMU or PCMA; telephone-event; SDES-SRTP when
// offered, or required by policy together with SIP TLS) -> the caller hears
// the enter-code prompt and types the code and # (RFC 4733 events or SIP
// INFO) -> wrong codes are counted per caller and globally (package
// dialin); three wrong codes end the call -> with a right code the gateway
// knocks (Meetings.Join) and the caller hears the waiting tone, and nothing
// of the meeting, until the members admit it -> in the meeting the caller
// hears the others' mix and is heard by them; *6 mutes and unmutes -> when
// the meeting or the leg ends, the gateway sends BYE with a Reason header
// (RFC 3326); when the phone hangs up, the gateway leaves the meeting.
//
// Subpackages: sip (authentication, allow-lists, flood limits), sdp
// (offer/answer), srtp (SDES), stream (RTP media of one call), media/*
// (codecs, resampling), jitter, dtmf, mix, prompts, dialin (codes).
//
// The meeting side is behind the Meetings interface. MemberMeetings
// implements it over a MemberClient (transcoding, one Opus decoder per
// member, the mix); BotDialer provides the MemberClient: a clients/bot
// participant whose e2ee/session member is of kind "phone gateway" (detail:
// the phone and the gateway), knocks without the link secret (the gateway
// never has it) and waits in the lobby until a member admits it, then
// publishes the phone's Opus frames (bot.AudioSource) and hands the
// members' decrypted Opus frames to the leg (bot.AudioSink). Audio is no
// longer end-to-end encrypted past the gateway: every client shows the
// phone member (DESIGN.md P4).
package phone
