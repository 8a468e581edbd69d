package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"conclave/e2ee/mls"
)

// MaxChatLen bounds a chat message's text, in bytes.
const MaxChatLen = 16 << 10

// ErrChat: a chat message too long or not valid UTF-8.
var ErrChat = errors.New("session: invalid chat message")

// appMessage is the JSON plaintext of an MLS application message
// (docs/e2ee-protocol.md, "Chat").
type appMessage struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
	// Leaf and MAC are the fields of an attestation (attest.go).
	Leaf *uint32 `json:"leaf,omitempty"`
	MAC  []byte  `json:"mac,omitempty"`
	// On is the state of a status message (status.go).
	On *bool `json:"on,omitempty"`
}

// SendChat seals a chat message as an MLS PrivateMessage (RFC 9420,
// Section 6.3) for the current members. While proposals wait for a commit
// (Section 12.4 forbids sending application data then) it is queued and
// sent right after the commit. Members who join later never receive it.
func (s *Session) SendChat(text string) (Output, error) {
	if len(text) > MaxChatLen || !utf8.ValidString(text) {
		return s.flush(), ErrChat
	}
	if s.phase != phaseMember || s.group == nil || s.unattested {
		return s.flush(), fmt.Errorf("%w: chat before joining", ErrState)
	}
	b, err := json.Marshal(appMessage{Type: "chat", Text: text})
	if err != nil {
		return s.flush(), fmt.Errorf("session: chat: %w", err)
	}
	s.chatQueue = append(s.chatQueue, b)
	s.flushChat()
	return s.flush(), nil
}

// flushChat seals what it can; on "proposals pending" it waits.
func (s *Session) flushChat() {
	for len(s.chatQueue) > 0 && s.group != nil {
		msg, err := s.group.Seal(s.chatQueue[0], nil)
		if errors.Is(err, mls.ErrInvalidProposal) {
			return
		}
		if err != nil {
			s.reject("seal chat", err)
		} else {
			s.send(outApplication{message: msg})
		}
		clear(s.chatQueue[0])
		s.chatQueue = s.chatQueue[1:]
	}
}

// onApplication opens a relayed PrivateMessage.
func (s *Session) onApplication(m inApplication) {
	if s.phase != phaseMember || s.group == nil {
		return
	}
	rec, err := s.group.ProcessMessage(m.message)
	if errors.Is(err, mls.ErrWrongEpoch) {
		// Sent in an epoch this member never had (it joined later) or left
		// more than mls.Config.PastEpochs epochs ago: its keys are gone. A
		// message sealed just before a commit that the DS ordered first is
		// not lost this way: the group keeps the last epochs' keys for it
		// (rec.Late below). Attestation requests are repeated in the new
		// epoch.
		s.log.Debug("session: application message of an epoch not kept dropped")
		return
	}
	if err != nil {
		s.reject("application message", err)
		return
	}
	if rec.Type != mls.ContentApplication || rec.Sender.Type != mls.SenderMember {
		s.reject("application message", fmt.Errorf("%w: not application data from a member", ErrProtocol))
		return
	}
	var am appMessage
	if err := json.Unmarshal(rec.ApplicationData, &am); err != nil {
		s.reject("application message", fmt.Errorf("%w: not JSON", ErrProtocol))
		return
	}
	switch am.Type {
	case "chat", string(StatusHand), string(StatusRecording):
	case attestRequestType:
		// A late request names a leaf of an epoch that has ended; the
		// joiner asks again in each new epoch until attested.
		if !rec.Late {
			s.onAttestRequest(rec.Sender.Index)
		}
		return
	case attestType:
		s.onAttestation(am, rec.Epoch)
		return
	default:
		return // other application data types may come later
	}
	from := s.senderOf(rec)
	if am.Type != "chat" {
		s.onStatus(am, from, rec.Epoch)
		return
	}
	s.emit(ChatReceived{From: from, Epoch: rec.Epoch, Late: rec.Late, Text: am.Text})
}

// senderOf returns the member that sent rec as of the epoch it was sent in:
// for a late message (rec.Late) its leaf may hold someone else by now, or
// no one, so the current roster would name the wrong member.
func (s *Session) senderOf(rec *mls.Received) Member {
	if rec.From == nil {
		return Member{}
	}
	m, _ := s.member(*rec.From)
	return m
}
