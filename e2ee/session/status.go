package session

import (
	"encoding/json"
	"fmt"

	"conclave/e2ee/sframe"
)

// StatusKind names a member's state that the others must see.
type StatusKind string

// Status kinds (docs/e2ee-protocol.md, "Client behaviour": application
// messages {"type":"hand"|"recording","on":bool}).
const (
	// StatusHand: the member raised (or lowered) its hand.
	StatusHand StatusKind = "hand"
	// StatusRecording: the member started (or stopped) recording the
	// meeting on its own device; every client shows a banner while it runs.
	StatusRecording StatusKind = "recording"
)

func (k StatusKind) valid() bool { return k == StatusHand || k == StatusRecording }

// SendStatus announces a state of this member to the current members, as an
// MLS application message (RFC 9420, Section 6.3), queued like chat while
// proposals wait for a commit. Members who join later do not receive it:
// a client repeats its states that are on after each EpochChanged.
func (s *Session) SendStatus(kind StatusKind, on bool) (Output, error) {
	if !kind.valid() {
		return s.flush(), fmt.Errorf("%w: unknown status %q", ErrState, kind)
	}
	if s.phase != phaseMember || s.group == nil || s.unattested {
		return s.flush(), fmt.Errorf("%w: status before joining", ErrState)
	}
	b, err := json.Marshal(appMessage{Type: string(kind), On: &on})
	if err != nil {
		return s.flush(), fmt.Errorf("session: status: %w", err)
	}
	s.chatQueue = append(s.chatQueue, b)
	s.flushChat()
	return s.flush(), nil
}

// onStatus reports a member's status message.
func (s *Session) onStatus(am appMessage, from Member, epoch uint64) {
	if am.On == nil {
		s.reject("status message", fmt.Errorf("%w: status without a state", ErrProtocol))
		return
	}
	s.emit(StatusReceived{From: from, Epoch: epoch, Kind: StatusKind(am.Type), On: *am.On})
}

// epochChanged is the event of the current epoch, with the media base key
// for clients that run SFrame elsewhere.
func (s *Session) epochChanged() EpochChanged {
	g := s.group
	ev := EpochChanged{Epoch: g.Epoch(), SecurityCode: s.code, Sender: s.Sender(), Leaf: g.OwnLeaf()}
	if k, err := sframe.MLSBaseKey(MediaSuite, g); err == nil {
		ev.MediaBaseKey = k
	} else {
		s.reject("media base key", err)
	}
	return ev
}
