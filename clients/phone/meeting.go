package phone

import (
	"context"
	"errors"

	"conclave/clients/phone/dialin"
	"conclave/clients/phone/mix"
)

// Errors of Meetings.Join.
var (
	// ErrRefused: the members refused the gateway member (or it waited in
	// the lobby past the limit).
	ErrRefused = errors.New("phone: not admitted to the meeting")
	// ErrPhonesForbidden: the meeting's group context forbids phones.
	ErrPhonesForbidden = errors.New("phone: the meeting does not allow phones")
	// ErrMeetingGone: the meeting ended or cannot be reached.
	ErrMeetingGone = errors.New("phone: meeting unavailable")
)

// Caller describes who is on the phone, for the gateway member's label.
type Caller struct {
	// Identity is "+number" for a trunk call with a number, the
	// authenticated desk phone's user, or the SIP identity (sip:user@host).
	Identity string
	// Gateway is this gateway's name.
	Gateway string
}

// DisplayName is the member's name that every client shows.
func (c Caller) DisplayName() string {
	return "Phone caller (" + c.Identity + "), via gateway " + c.Gateway
}

// Meetings joins meetings on behalf of phone calls.
type Meetings interface {
	// Join knocks on room as a phone gateway member for caller and
	// returns once the members admitted it (ErrRefused,
	// ErrPhonesForbidden, ErrMeetingGone otherwise). From then on the
	// leg writes each other member's decoded audio (48 kHz mono) into
	// sink under the member's identity.
	Join(ctx context.Context, room dialin.Room, caller Caller, sink *mix.Mixer) (Leg, error)
}

// Leg is a gateway member in a meeting.
type Leg interface {
	// Send publishes one 20 ms frame (960 samples at 48 kHz) of the
	// phone's audio; the leg encodes it with Opus and encrypts it with
	// SFrame. A nil frame means muted (send nothing).
	Send(pcm []int16) error
	// Done is closed when the leg is over (removed, meeting ended).
	Done() <-chan struct{}
	// Close leaves the meeting.
	Close()
}
