package session

import (
	"conclave/e2ee/sframe"
)

// Event is something the user interface (or a bot's report) must learn.
// Events come out of every Session method in the order they happened.
type Event interface{ isEvent() }

// Member is one entry of the roster: a leaf of the MLS tree and the identity
// its credential states. The roster is the tree, never the server's list.
type Member struct {
	Leaf     uint32
	Identity Identity
	// Self marks this client's own leaf.
	Self bool
}

// LobbyEntry is a joiner waiting without a valid admission proof.
type LobbyEntry struct {
	// Ref is the KeyPackageRef to pass to Admit or Refuse.
	Ref []byte
	// Participant is the DS's name for the joiner's connection.
	Participant string
	// Identity is what the joiner's credential claims.
	Identity Identity
	// BadProof is set when the joiner sent a proof that did not verify (a
	// wrong or stale link), as opposed to knocking without one.
	BadProof bool
}

// EpochChanged: the group moved to a new epoch (or was created or joined).
// Senders must switch to Sender at once; the session's Receiver already
// holds the epoch, and keeps the previous one for Timing.EpochGrace.
//
// A client that runs SFrame outside this process (the browser's
// encoded-transform worker) keys it from MediaBaseKey and Leaf instead:
// its sending KID is made of context 0, Leaf and Epoch in
// sframe.DefaultKIDLayout, and it receives by each frame's KID (RFC 9605,
// Section 5.2). It must send only while Sender is non-nil (an unattested
// joiner receives but never sends; attest.go), and erase MediaBaseKey once
// handed over.
type EpochChanged struct {
	Epoch        uint64
	SecurityCode string
	Sender       *sframe.Sender
	// MediaBaseKey is the epoch's SFrame base key,
	// MLS-Exporter("SFrame 1.0 Base Key", "", 16) (RFC 9605, Section 5.2).
	// It is secret: never log it.
	MediaBaseKey []byte
	// Leaf is this member's leaf index, the index part of its KID.
	Leaf uint32
}

// RosterChanged: the members of the group changed.
type RosterChanged struct{ Members []Member }

// LobbyChanged: the set of joiners waiting for a member to admit them.
type LobbyChanged struct{ Waiting []LobbyEntry }

// LobbyStatus: this client, a joiner, is waiting, was refused or admitted.
type LobbyStatus struct {
	Waiting, Refused, Admitted bool
	Reason                     string
}

// ChatReceived: an end-to-end encrypted chat message from a member.
type ChatReceived struct {
	// From is the sender as of Epoch, the epoch the message was sealed in.
	From  Member
	Epoch uint64
	// Late marks a message sealed in an earlier epoch than the current one
	// and delivered after the commit that ended it (the DS orders commits
	// and chat; RFC 9420, Section 15.3). It is as authentic as any other;
	// a client may show it where it was sent, before the epoch change.
	Late bool
	Text string
}

// Rejected: the session refused something it received, such as an external
// proposal other than a Remove, a commit adding a member nobody admitted, a
// Welcome into a group the link secret did not create, or a message it
// could not authenticate. The meeting goes on without it.
type Rejected struct {
	What string
	Err  error
}

// StatusReceived: a member announced a state of its own that every member
// must see (StatusHand, StatusRecording), in an MLS application message.
type StatusReceived struct {
	From  Member
	Epoch uint64
	Kind  StatusKind
	On    bool
}

// Removed: this client is no longer a member (it was removed or left).
type Removed struct{}

// ServerError: the DS reported an error.
type ServerError struct {
	Code uint16
	Text string
}

// TokenRefreshed: the DS sent a fresh access token for this client's own
// claims (docs/e2ee-protocol.md, "Token refresh"). The client opens its next
// /e2ee WebSocket (a reconnect, to resume) with the latest one, since the
// token it started with expires. It is a bearer credential for /rtc and
// /e2ee: never log it. The session does not keep it.
type TokenRefreshed struct{ Token string }

func (EpochChanged) isEvent()   {}
func (RosterChanged) isEvent()  {}
func (LobbyChanged) isEvent()   {}
func (LobbyStatus) isEvent()    {}
func (ChatReceived) isEvent()   {}
func (Rejected) isEvent()       {}
func (Removed) isEvent()        {}
func (ServerError) isEvent()    {}
func (StatusReceived) isEvent() {}
func (TokenRefreshed) isEvent() {}
