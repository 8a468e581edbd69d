// Package rtc serves the LiveKit signal protocol (protocol version 17, the
// protobufs of github.com/livekit/protocol/livekit) on a WebSocket at /rtc,
// so that the stock livekit-client SDK and Conclave's Go bots can join a
// room's media. It implements the dual-PeerConnection path: a publisher
// PeerConnection the client offers and a subscriber PeerConnection the
// server offers (JoinResponse.subscriber_primary), with trickle ICE both
// ways. /rtc/v1 (single PeerConnection) answers 404 so clients fall back.
//
// A participant is admitted by an access token (package signaling/token)
// whose room grant is the room key; rooms are keyed by it and never see a
// room ID. Every published track must declare SFrame/GCM encryption: a track
// declaring NONE is refused with an error to the publisher, because the SFU
// must only ever carry ciphertext.
//
// What it must never see or log: tokens, SDP bodies, media. Logs carry a
// short hash of the room key and the participant identity.
package rtc
