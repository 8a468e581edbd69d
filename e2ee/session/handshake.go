package session

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"conclave/e2ee/mls"
	"conclave/e2ee/sframe"
)

// ErrUnadmitted: a commit adds a member without admission evidence: neither
// a valid proof nor the committer's decision to admit it from the lobby
// (evidence.go).
var ErrUnadmitted = errors.New("session: commit adds a member nobody admitted")

// ErrExternalCommit: an external commit (a non-member joining by itself,
// RFC 9420, Section 12.4.3.2), which Conclave clients never accept: every
// member is added by a member.
var ErrExternalCommit = errors.New("session: external commits are not accepted")

// onHandshake applies a proposal or commit the DS sequenced.
func (s *Session) onHandshake(m inHandshake, now time.Time) {
	if s.phase != phaseMember || s.group == nil {
		return // a joiner before its Welcome, or a removed member
	}
	info, err := mls.InspectMessage(m.message)
	if err != nil {
		s.reject("handshake", err)
		return
	}
	if info.WireFormat != mls.WireFormatPublicMessage {
		s.reject("handshake", fmt.Errorf("%w: handshake as %v", ErrProtocol, info.WireFormat))
		return
	}
	if !bytes.Equal(info.GroupID, s.group.GroupID()) {
		s.reject("handshake", mls.ErrWrongGroup)
		return
	}
	if info.Epoch < s.group.Epoch() {
		return // already applied (a replay while resuming)
	}
	if info.Epoch > s.group.Epoch() {
		s.reject("handshake", fmt.Errorf("%w: epoch %d ahead of ours (%d): missed a commit", ErrProtocol, info.Epoch, s.group.Epoch()))
		return
	}
	if info.Sender != nil && info.Sender.Type == mls.SenderNewMemberCommit {
		s.reject("handshake", ErrExternalCommit)
		return
	}
	switch info.ContentType {
	case mls.ContentProposal:
		s.lastPolicyRemove = nil
		if _, err := s.group.ProcessMessage(m.message); err != nil {
			s.reject("proposal", err)
			return
		}
		// Member proposals (an Update, a Remove) wait for the committer
		// like the DS's Removes; an Add among them is still checked against
		// admission when the commit arrives.
		if s.lastPolicyRemove != nil {
			s.pendingRemoves[*s.lastPolicyRemove] = true
		}
		s.noteWork(now)
	case mls.ContentCommit:
		s.onCommit(m.message, now)
	default:
		s.reject("handshake", fmt.Errorf("%w: content type %v", ErrProtocol, info.ContentType))
	}
}

// onCommit applies a commit, refusing one that adds members without
// admission evidence (evidence.go): the group state is restored from before
// it.
func (s *Session) onCommit(msg []byte, now time.Time) {
	before, err := s.group.MarshalBinary()
	if err != nil {
		s.reject("commit", err)
		return
	}
	rec, err := s.group.ProcessMessage(msg)
	if err != nil {
		s.reject("commit", err)
		return
	}
	if rec.Commit == nil {
		s.reject("commit", fmt.Errorf("%w: no commit summary", ErrProtocol))
		return
	}
	if rec.Commit.SelfRemoved {
		s.leaveGroup()
		return
	}
	members := s.group.Members()
	ev, everr := decodeEvidence(rec.AuthenticatedData)
	// Our own commit (merged, so without its authenticated data) was
	// checked when we made it.
	own := rec.Sender.Type == mls.SenderMember && rec.Sender.Index == s.group.OwnLeaf()
	for _, leaf := range rec.Commit.Added {
		if own {
			break
		}
		i := slices.IndexFunc(members, func(m mls.Member) bool { return m.Leaf == leaf })
		err := everr
		if err == nil && i < 0 {
			err = errNoEvidence
		}
		if err == nil {
			err = s.checkAdded(ev, members[i])
		}
		if err == nil {
			err = s.checkPhoneAllowed(members[i])
		}
		if err != nil {
			g, lerr := mls.LoadGroup(before, s.mlsConfig())
			if lerr == nil {
				s.group = g
			}
			s.reject("commit", fmt.Errorf("%w: leaf %d: %w", ErrUnadmitted, leaf, err))
			return
		}
	}
	s.carryRemoves(before, rec.Commit)
	s.commitSent = time.Time{}
	clear(s.addedBy)
	for _, leaf := range rec.Commit.Added {
		s.addedBy[leaf] = rec.Sender.Index
	}
	if err := s.enterEpoch(now); err != nil {
		s.reject("enter epoch", err)
	}
}

// carryRemoves keeps the DS's Removes the commit did not apply.
func (s *Session) carryRemoves(before []byte, c *mls.CommitSummary) {
	var old []mls.Member
	if len(s.pendingRemoves) > 0 || len(s.carried) > 0 {
		if g, err := mls.LoadGroup(before, s.mlsConfig()); err == nil {
			old = g.Members()
		}
	}
	for leaf := range s.pendingRemoves {
		if i := slices.IndexFunc(old, func(m mls.Member) bool { return m.Leaf == leaf }); i >= 0 {
			s.carried[leaf] = old[i].SignatureKey
		}
	}
	now := s.group.Members()
	for leaf, key := range s.carried {
		i := slices.IndexFunc(now, func(m mls.Member) bool { return m.Leaf == leaf })
		if slices.Contains(c.Removed, leaf) || i < 0 || !bytes.Equal(now[i].SignatureKey, key) {
			delete(s.carried, leaf)
		}
	}
}

func (s *Session) leaveGroup() {
	s.phase = phaseRemoved
	if s.group != nil {
		s.group.ForgetPastEpochs() // no late messages for a departed member
	}
	s.group = nil
	s.sender = nil
	s.commitSent = time.Time{}
	s.emit(Removed{})
}

// enterEpoch runs after the group reached a new epoch: media keys, security
// code, roster, and what is left to commit.
func (s *Session) enterEpoch(now time.Time) error {
	g := s.group
	clear(s.pendingRemoves)
	// Joiners now in the tree are done; so are those whose Add we saw.
	members := g.Members()
	for key, a := range s.joiners {
		for _, m := range members {
			if bytes.Equal(a.kp.SignatureKey(), m.SignatureKey) {
				delete(s.joiners, key)
				break
			}
		}
	}
	s.epochSince = now
	s.workSince = time.Time{}
	if len(s.carried) > 0 {
		s.workSince = now
	}
	for _, a := range s.joiners {
		if a.queued {
			s.workSince = now
			break
		}
	}
	if err := s.receiver.AddEpoch(g.Epoch(), g, now); err != nil {
		return fmt.Errorf("session: media receiver epoch %d: %w", g.Epoch(), err)
	}
	snd, err := sframe.NewMLSSender(MediaSuite, sframe.DefaultKIDLayout, g, g.Epoch(), g.OwnLeaf(), 0)
	if err != nil {
		return fmt.Errorf("session: media sender epoch %d: %w", g.Epoch(), err)
	}
	s.sender = snd
	s.code = SecurityCode(g.EpochAuthenticator())
	s.log.Info("session: epoch", "epoch", g.Epoch(), "members", len(members))
	s.emit(s.epochChanged())
	s.emit(RosterChanged{Members: s.Roster()})
	if s.unattested {
		s.requestAttestation(now)
	}
	s.flushChat()
	return nil
}

func (s *Session) onCommitResult(m inCommitResult, now time.Time) {
	if m.ok || s.group == nil {
		return
	}
	// Another member's commit won the epoch: ours is void. The winner
	// arrives (or arrived) as a Handshake; what it did not include stays
	// queued and is committed in the next epoch.
	s.group.DiscardPendingCommit()
	s.commitSent = time.Time{}
	if s.workSince.IsZero() {
		s.workSince = now
	}
}

// noteWork starts the batch timer if it is not running.
func (s *Session) noteWork(now time.Time) {
	if s.workSince.IsZero() {
		s.workSince = now
	}
}

// rank is this member's position among the members not being removed, by
// leaf index; -1 if it is being removed.
func (s *Session) rank() int {
	r := 0
	own := s.group.OwnLeaf()
	if s.pendingRemoves[own] || s.carried[own] != nil {
		return -1
	}
	for _, m := range s.group.Members() {
		if m.Leaf < own && !s.pendingRemoves[m.Leaf] && s.carried[m.Leaf] == nil {
			r++
		}
	}
	return r
}

// commitDeadline is when this member commits the pending work, or zero.
func (s *Session) commitDeadline() time.Time {
	if s.phase != phaseMember || s.group == nil || s.workSince.IsZero() {
		return time.Time{}
	}
	if !s.commitSent.IsZero() {
		return s.commitSent.Add(s.timing.CommitTimeout)
	}
	r := s.rank()
	if r < 0 {
		return time.Time{}
	}
	for _, a := range s.joiners {
		if a.mine {
			r = 0
		}
	}
	delay := s.timing.BatchDelay
	if r == 0 && s.workSince.Sub(s.epochSince) >= s.timing.BatchDelay {
		// A quiet epoch: the first joiner or departure is committed at
		// once. Work that follows an epoch change closely (a join storm,
		// or what the last commit left queued) waits BatchDelay so that
		// it goes in one commit. The takeover times of the other ranks
		// stay measured from BatchDelay.
		delay = 0
	}
	return s.workSince.Add(delay + time.Duration(r)*s.timing.CommitTimeout)
}

// Deadline is when Tick must next be called (zero: only on input). Media
// key expiry needs a Tick at least every EpochGrace.
func (s *Session) Deadline() time.Time {
	d := s.commitDeadline()
	if s.unattested && !s.attestAt.IsZero() && (d.IsZero() || s.attestAt.Before(d)) {
		d = s.attestAt
	}
	return d
}

// Tick runs the timers: retiring old media keys and committing.
func (s *Session) Tick(now time.Time) Output {
	s.tick(now)
	return s.flush()
}

func (s *Session) tick(now time.Time) {
	s.receiver.Expire(now)
	if s.unattested && !s.attestAt.IsZero() && !now.Before(s.attestAt) && s.group != nil {
		// The request or its answer was lost (sealed in an epoch the
		// others had already left, say): ask again.
		s.requestAttestation(now)
		s.flushChat()
	}
	d := s.commitDeadline()
	if !d.IsZero() && !now.Before(d) {
		if !s.commitSent.IsZero() {
			// The DS never answered: forget the commit and try again.
			s.group.DiscardPendingCommit()
			s.commitSent = time.Time{}
			s.workSince = now.Add(-s.timing.BatchDelay)
		}
		s.commit(now)
	}
}

// commit commits queued Adds and the cached Remove proposals in one batch
// (RFC 9420, Section 12.4), with a Welcome for the joiners.
func (s *Session) commit(now time.Time) {
	var queued []*admitted
	for _, a := range s.joiners {
		if a.queued {
			queued = append(queued, a)
		}
	}
	slices.SortFunc(queued, func(a, b *admitted) int { return bytes.Compare(a.kp.Ref(), b.kp.Ref()) })
	var adds []*mls.KeyPackage
	for _, a := range queued {
		adds = append(adds, a.kp)
	}
	var removes []uint32
	for leaf := range s.carried {
		if !s.pendingRemoves[leaf] && leaf != s.group.OwnLeaf() {
			removes = append(removes, leaf)
		}
	}
	slices.Sort(removes)
	if len(adds) == 0 && len(s.pendingRemoves) == 0 && len(removes) == 0 {
		s.workSince = time.Time{}
		return
	}
	var ad []byte
	if len(adds) > 0 {
		ad = encodeEvidence(queued)
	}
	res, err := s.group.Commit(mls.CommitOptions{Add: adds, Remove: removes, AuthenticatedData: ad})
	if err != nil {
		// A KeyPackage the group cannot take (expired, duplicate): drop
		// the Adds and let the Removes through next time.
		s.reject("commit", err)
		for _, a := range s.joiners {
			a.queued, a.mine = false, false
		}
		clear(s.carried)
		s.workSince = now
		if len(s.pendingRemoves) == 0 {
			s.workSince = time.Time{}
		}
		return
	}
	s.commitSent = now
	s.send(outCommit{commit: res.Commit, welcome: res.Welcome})
}

// Roster returns the members of the group, by leaf.
func (s *Session) Roster() []Member {
	if s.group == nil {
		return nil
	}
	var r []Member
	for _, m := range s.group.Members() {
		if mem, ok := s.member(m); ok {
			r = append(r, mem)
		}
	}
	return r
}

// member is m as the session presents it; false if its credential holds
// no identity (the validator admits no such leaf).
func (s *Session) member(m mls.Member) (Member, bool) {
	id, err := ParseIdentity(m.Credential.Identity)
	if err != nil {
		return Member{}, false
	}
	return Member{Leaf: m.Leaf, Identity: id, Self: m.Leaf == s.group.OwnLeaf()}, true
}

// Epoch returns the current epoch (0 before joining).
func (s *Session) Epoch() uint64 {
	if s.group == nil {
		return 0
	}
	return s.group.Epoch()
}

// SecurityCode returns the current epoch's security code ("" before joining).
func (s *Session) SecurityCode() string {
	if s.group == nil {
		return ""
	}
	return s.code
}

// Member reports whether this client is in the group.
func (s *Session) Member() bool { return s.phase == phaseMember && s.group != nil }

// Sender returns the media sender of the current epoch (nil before joining
// or after removal, and for a joiner holding the link secret until a member
// attested the group). Replace it on every EpochChanged.
func (s *Session) Sender() *sframe.Sender {
	if s.unattested {
		return nil
	}
	return s.sender
}

// Receiver returns the media receiver, which holds the current epoch and,
// for the grace period, the previous ones. It is safe for concurrent use.
func (s *Session) Receiver() *sframe.MLSReceiver { return s.receiver }
