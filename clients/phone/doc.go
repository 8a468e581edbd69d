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
// Subpackages: sip (authentication, allow-lists, flood limits), sdp
// (offer/answer), srtp (SDES), stream (RTP media of one call), media/*
// (codecs, resampling), jitter, dtmf, mix, prompts, dialin (codes).
// The meeting side is behind the Meetings interface, implemented with
// e2ee/session and clients/bot.
package phone
