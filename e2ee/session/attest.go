package session

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"time"
)

// Attestation (an addition to docs/e2ee-protocol.md, "Client behaviour").
//
// A Welcome proves only that its GroupInfo was signed by some member of
// some group. A server could build a group of its own, add a joiner's
// KeyPackage and forge the Welcome; the joiner would then encrypt its media
// for the server. A joiner that holds the link secret therefore sends
// nothing until a member proves that the group knows the secret too:
//
//  1. after processing the Welcome, and again at each new epoch until
//     attested, the joiner sends the application message
//     {"type":"attest-request"};
//  2. the member that committed the joiner's Add (or, for joiners it does
//     not know the committer of, the lowest-ranked member) answers, if it
//     holds the secret, {"type":"attest","leaf":L,"mac":...} with
//     mac = HMAC(k, "Conclave attestation v1" || epoch_authenticator ||
//     uint32 L) (admission.go), sealed in the same epoch;
//  3. the joiner checks the MAC against its own epoch authenticator and only
//     then gets its media Sender and may chat.
//
// The server knows its fake group's epoch authenticator but not k, and
// cannot produce any message in the real group. A joiner whose secret is
// wrong, admitted from the lobby, cannot verify either: it receives but
// never sends, and reports why. Knocking joiners have no secret to check
// with; for them, as for everyone, the security code is the check.

const (
	attestRequestType = "attest-request"
	attestType        = "attest"
)

// attestRetry is how long a joiner waits for an attestation before asking
// again. A request sealed in an epoch that the others have left is dropped,
// and a quiet group has no next epoch to ask in.
const attestRetry = time.Second

func (s *Session) requestAttestation(now time.Time) {
	b, _ := json.Marshal(appMessage{Type: attestRequestType})
	s.chatQueue = append(s.chatQueue, b)
	s.attestAt = now.Add(attestRetry)
}

// onAttestRequest answers a joiner at leaf if this member is the one to.
func (s *Session) onAttestRequest(leaf uint32) {
	if s.adm == nil || s.unattested {
		return
	}
	// The member that added the joiner answers, and so does the
	// lowest-ranked online member: the committer may have left since, or
	// this member may have joined after the commit. A second answer is
	// harmless; none would leave the joiner mute.
	if committer, ok := s.addedBy[leaf]; (!ok || committer != s.group.OwnLeaf()) && s.rank() != 0 {
		return
	}
	l := leaf
	b, err := json.Marshal(appMessage{Type: attestType, Leaf: &l, MAC: s.adm.attestation(s.group.EpochAuthenticator(), leaf)})
	if err != nil {
		return
	}
	s.chatQueue = append(s.chatQueue, b)
	s.flushChat()
}

// onAttestation checks an attestation for this client.
func (s *Session) onAttestation(am appMessage, epoch uint64) {
	if !s.unattested || am.Leaf == nil || *am.Leaf != s.group.OwnLeaf() || epoch != s.group.Epoch() {
		return
	}
	if !hmac.Equal(s.adm.attestation(s.group.EpochAuthenticator(), *am.Leaf), am.MAC) {
		s.reject("attestation", fmt.Errorf("%w: the group does not know this link's secret (wrong link, or a forged Welcome)", ErrAdmission))
		return
	}
	s.unattested = false
	s.attestAt = time.Time{}
	s.log.Info("session: group attested", "epoch", s.group.Epoch())
	s.emit(s.epochChanged())
}
