// Package ds is Conclave's MLS delivery service (RFC 9420, Section 1.2 and
// Section 16.9 on its trust): the /e2ee WebSocket of docs/e2ee-protocol.md,
// protocol version 1 (package e2ee/dsproto).
//
// It keeps one state per room key and knows the room's MLS group only by the
// public framing of its messages (mls.InspectMessage): it sequences
// handshake messages, accepting exactly one commit per epoch (the first;
// the others are told to rebase), routes each Welcome to the joiners whose
// KeyPackageRefs it names, relays application messages (chat) to the joined
// members only, holds the KeyPackages of waiting joiners (the lobby), lets a
// member resume within LeaveGrace by replaying the handshakes it missed, and
// after LeaveGrace (or at once, when it said goodbye: Server.Left) removes a
// departed member with an external Remove
// proposal (RFC 9420, Section 12.1.8) signed with the server's own key
// (data/ds.key). That Remove is the only thing it ever signs: members
// accept nothing else from it (mls.AllowExternalRemoveOnly).
//
// With Config.Refresh set, it sends each connection a fresh access token
// for the claims it connected with every RefreshInterval
// (dsproto.RefreshToken), as /rtc does, so that a client can reconnect and
// resume after its first token expired.
//
// It tells the media plane which participants are members (Server.Admitted,
// Config.OnAdmission), so that the SFU forwards nothing to a participant
// before its Welcome.
//
// What it must never see or keep: keys, plaintext, link secrets. It keeps no
// application message (chat is relayed, never stored), deletes a room's
// state when its last connection and member are gone, and logs only hashed
// room keys, participant identities, epochs, leaf indexes and sizes; never
// tokens, KeyPackages or message bodies. Every count and size is bounded, a
// slow reader is disconnected rather than waited for, and a panic in a
// handler closes that one connection.
package ds
