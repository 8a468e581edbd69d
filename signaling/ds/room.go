package ds

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"conclave/e2ee/dsproto"
	"conclave/e2ee/mls"
)

// maxRelayed bounds an MLS message the DS passes on, so that the message
// wrapping it (Handshake, RelayedApplication) stays within
// dsproto.MaxMessageSize.
const maxRelayed = dsproto.MaxMessageSize - 16 - dsproto.MaxParticipant

var errRoomGone = errors.New("ds: room state deleted")

// member is a participant in the room's group: it joined (or the creator)
// and reported its leaf. conn is nil while its connection is away.
type member struct {
	identity string
	leaf     uint32
	conn     *conn
	grace    *time.Timer
}

// joiner is a lobby entry: a KeyPackage waiting for a Welcome.
type joiner struct {
	ref   []byte
	kp    []byte
	proof []byte
	conn  *conn
}

// logEntry is a handshake message kept for resumption.
type logEntry struct {
	seq   uint64
	epoch uint64 // the epoch the message was sent in
	msg   []byte // the encoded Handshake
}

// room is the DS state of one room key (docs/e2ee-protocol.md, "DS
// behaviour"). Everything is guarded by mu; nothing in it blocks.
type room struct {
	s   *Server
	key string
	log *slog.Logger

	mu         sync.Mutex
	gone       bool
	conns      map[*conn]struct{}
	byIdentity map[string]*conn
	order      uint64
	creator    *conn // designated creator, until its Joined

	groupID []byte // nil: no group
	epoch   uint64
	members map[string]*member // by identity
	pending map[string]*joiner // by hex KeyPackageRef

	seq        uint64
	hlog       []logEntry
	hlogBytes  int
	floorEpoch uint64 // every handshake of an epoch >= floorEpoch is in hlog

	notes []string // identities whose admission changed, for OnAdmission
}

func newRoom(s *Server, key string) *room {
	return &room{
		s: s, key: key, log: s.log.With("room", roomLogID(key)),
		conns: map[*conn]struct{}{}, byIdentity: map[string]*conn{},
		members: map[string]*member{}, pending: map[string]*joiner{},
	}
}

func (r *room) attach(c *conn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return errRoomGone
	}
	if len(r.conns) >= r.s.cfg.MaxConns {
		return fmt.Errorf("ds: room has %d connections, the limit", len(r.conns))
	}
	r.order++
	c.order = r.order
	r.conns[c] = struct{}{}
	return nil
}

// handle runs one client message.
func (r *room) handle(c *conn, m dsproto.Message) {
	r.mu.Lock()
	unlocked := false
	defer func() {
		if !unlocked {
			r.mu.Unlock()
		}
	}()
	if _, ok := r.conns[c]; !ok || r.gone {
		return // replaced, refused or shut down meanwhile
	}
	if h, ok := m.(*dsproto.Hello); ok {
		r.helloLocked(c, h)
	} else if !c.hello {
		c.notAllowed("Hello first")
	} else {
		switch m := m.(type) {
		case *dsproto.KeyPackage:
			r.keyPackageLocked(c, m)
		case *dsproto.Commit:
			r.commitLocked(c, m)
		case *dsproto.Application:
			r.applicationLocked(c, m)
		case *dsproto.Refuse:
			r.refuseLocked(c, m)
		case *dsproto.Joined:
			r.joinedLocked(c, m)
		case *dsproto.GroupCreated:
			r.groupCreatedLocked(c, m)
		}
	}
	notes := r.takeNotesLocked()
	unlocked = true
	r.mu.Unlock()
	r.s.notify(r.key, notes)
}

func (r *room) takeNotesLocked() []string {
	n := r.notes
	r.notes = nil
	return n
}

// helloLocked assigns a role: resume, create or join.
func (r *room) helloLocked(c *conn, h *dsproto.Hello) {
	if c.hello {
		c.notAllowed("Hello twice")
		return
	}
	if old := r.byIdentity[c.identity]; old != nil && old != c {
		r.detachLocked(old)
		old.close(dsproto.CodeReplaced, "replaced by a newer connection")
	}
	r.byIdentity[c.identity] = c
	// c.hello is set only once its role is decided, so that designateLocked
	// (run by the removals below) does not pick it meanwhile.
	defer func() { c.hello = true }()
	hello := &dsproto.ServerHello{
		SignatureKey: r.s.key.PublicKey(), Credential: []byte(CredentialIdentity),
		Epoch: r.epoch, GroupID: r.groupID,
	}
	m := r.members[c.identity]
	// A Hello with a group ID holds state, even at epoch 0 (the creator
	// alone, whose leaf is 0: dsproto leaves the leaf out at epoch 0).
	if m != nil && m.conn == nil && len(h.GroupID) > 0 && r.groupID != nil && bytes.Equal(h.GroupID, r.groupID) &&
		h.Leaf == m.leaf && h.HaveEpoch >= r.floorEpoch && h.HaveEpoch <= r.epoch {
		if m.grace != nil {
			m.grace.Stop()
			m.grace = nil
		}
		m.conn, c.member = c, m
		hello.Role = dsproto.RoleResume
		c.send(hello)
		n := 0
		for _, e := range r.hlog {
			if e.epoch >= h.HaveEpoch {
				c.sendRaw(e.msg)
				n++
			}
		}
		r.sendPendingLocked(c)
		c.log.Info("ds: member resumed", "leaf", m.leaf, "epoch", r.epoch, "replayed", n)
		return
	}
	if m != nil {
		// It lost its state (or the log no longer covers it): its old leaf
		// goes at once, and it joins afresh.
		r.removeMemberLocked(m, "rejoin")
		r.groupLivenessLocked()
	}
	switch {
	case r.groupID == nil && r.creator == nil:
		r.creator = c
		hello.Role = dsproto.RoleCreate
	default:
		hello.Role = dsproto.RoleJoin
	}
	c.send(hello)
	c.log.Info("ds: connection", "role", hello.Role, "epoch", r.epoch)
}

// keyPackageLocked puts a joiner in the lobby and tells the members.
func (r *room) keyPackageLocked(c *conn, m *dsproto.KeyPackage) {
	if c.member != nil {
		c.notAllowed("a member sends no KeyPackage")
		return
	}
	kp, err := mls.ParseKeyPackage(m.KeyPackage)
	if err != nil {
		c.notAllowed("invalid KeyPackage")
		return
	}
	ref := kp.Ref()
	key := hex.EncodeToString(ref)
	if j := r.pending[key]; j != nil && j.conn != c {
		c.notAllowed("KeyPackage already pending")
		return
	}
	if r.creator == c {
		// A designated creator that cannot create (no link secret) declines
		// by knocking; someone else is asked.
		r.creator = nil
		c.declined = true
	}
	c.welcomed = false
	r.dropPendingLocked(c)
	j := &joiner{ref: ref, kp: bytes.Clone(m.KeyPackage), proof: bytes.Clone(m.Proof), conn: c}
	r.pending[key] = j
	c.pending = key
	c.send(&dsproto.Lobby{State: dsproto.LobbyWaiting})
	req := r.joinRequest(j)
	for _, mem := range r.members {
		if mem.conn != nil {
			mem.conn.send(req)
		}
	}
	r.designateLocked()
}

func (r *room) joinRequest(j *joiner) *dsproto.JoinRequest {
	return &dsproto.JoinRequest{Ref: j.ref, KeyPackage: j.kp, Proof: j.proof, Participant: []byte(j.conn.identity)}
}

// sendPendingLocked gives a member every waiting joiner.
func (r *room) sendPendingLocked(c *conn) {
	for _, j := range r.pending {
		c.send(r.joinRequest(j))
	}
}

// dropPendingLocked removes c's lobby entry, telling the members.
func (r *room) dropPendingLocked(c *conn) {
	if c.pending == "" {
		return
	}
	j := r.pending[c.pending]
	delete(r.pending, c.pending)
	c.pending = ""
	if j != nil {
		r.toMembersLocked(&dsproto.LobbyGone{Ref: j.ref}, nil)
	}
}

// toMembersLocked sends m to every online member but except.
func (r *room) toMembersLocked(m dsproto.Message, except *conn) {
	b, err := dsproto.Marshal(m)
	if err != nil {
		r.log.Error("ds: encode", "type", m.Type().String(), "err", err)
		return
	}
	for _, mem := range r.members {
		if mem.conn != nil && mem.conn != except {
			mem.conn.sendRaw(b)
		}
	}
}

// groupCreatedLocked records the group the designated creator made.
func (r *room) groupCreatedLocked(c *conn, m *dsproto.GroupCreated) {
	if c != r.creator || r.groupID != nil || len(m.GroupID) == 0 {
		c.notAllowed("GroupCreated only from the designated creator, once")
		return
	}
	r.groupID = bytes.Clone(m.GroupID)
	r.epoch = m.Epoch
	r.floorEpoch = m.Epoch
	r.hlog, r.hlogBytes = nil, 0
	c.log.Info("ds: group created", "epoch", r.epoch)
}

// joinedLocked makes c a member at the leaf it reports.
func (r *room) joinedLocked(c *conn, m *dsproto.Joined) {
	if c.member != nil || r.groupID == nil || !(c == r.creator || c.welcomed) || m.Epoch > r.epoch {
		c.notAllowed("Joined only after creating the group or receiving a Welcome")
		return
	}
	for _, o := range r.members {
		if o.leaf == m.Leaf && o.identity != c.identity {
			c.notAllowed("leaf held by another member")
			return
		}
	}
	if old := r.members[c.identity]; old != nil {
		r.removeMemberLocked(old, "rejoin")
	}
	mem := &member{identity: c.identity, leaf: m.Leaf, conn: c}
	r.members[c.identity] = mem
	c.member, c.welcomed = mem, false
	if r.creator == c {
		r.creator = nil
	}
	r.dropPendingLocked(c)
	r.notes = append(r.notes, c.identity)
	r.sendPendingLocked(c)
	c.log.Info("ds: member joined", "leaf", m.Leaf, "epoch", r.epoch)
}

// commitLocked accepts the first valid commit of the epoch.
func (r *room) commitLocked(c *conn, m *dsproto.Commit) {
	mem := c.member
	if mem == nil || mem.conn != c || r.groupID == nil {
		c.notAllowed("Commit only from a member")
		return
	}
	if len(m.Commit) > maxRelayed {
		c.notAllowed("commit too large")
		return
	}
	info, err := mls.InspectMessage(m.Commit)
	if err != nil || info.WireFormat != mls.WireFormatPublicMessage || info.ContentType != mls.ContentCommit ||
		!bytes.Equal(info.GroupID, r.groupID) || info.Sender == nil ||
		info.Sender.Type != mls.SenderMember || info.Sender.Index != mem.leaf {
		c.notAllowed("not a PublicMessage commit of this group from the member's own leaf")
		return
	}
	var refs [][]byte
	if len(m.Welcome) > 0 {
		w, err := mls.InspectMessage(m.Welcome)
		if err != nil || w.WireFormat != mls.WireFormatWelcome || len(m.Welcome) > maxRelayed {
			c.notAllowed("invalid Welcome")
			return
		}
		refs = w.KeyPackageRefs
	}
	if info.Epoch != r.epoch {
		c.send(&dsproto.CommitResult{OK: false, Epoch: r.epoch})
		return
	}
	r.handshakeLocked(info.Epoch, m.Commit)
	r.epoch++
	c.send(&dsproto.CommitResult{OK: true, Epoch: r.epoch})
	c.log.Info("ds: commit accepted", "leaf", mem.leaf, "epoch", r.epoch, "size", len(m.Commit), "welcomed", len(refs))
	if len(refs) == 0 {
		return
	}
	wb, err := dsproto.Marshal(&dsproto.MLSWelcome{Welcome: m.Welcome})
	if err != nil {
		r.log.Error("ds: encode Welcome", "err", err)
		return
	}
	for _, ref := range refs {
		j := r.pending[hex.EncodeToString(ref)]
		if j == nil {
			continue // the joiner left or was refused meanwhile
		}
		jc := j.conn
		jc.sendRaw(wb)
		jc.send(&dsproto.Lobby{State: dsproto.LobbyAdmitted})
		jc.welcomed = true
		r.dropPendingLocked(jc)
	}
}

// handshakeLocked numbers, logs and broadcasts an accepted commit or a DS
// Remove to the members and the welcomed joiners.
func (r *room) handshakeLocked(epoch uint64, msg []byte) {
	r.seq++
	b, err := dsproto.Marshal(&dsproto.Handshake{Seq: r.seq, Message: msg})
	if err != nil {
		r.log.Error("ds: encode Handshake", "err", err)
		return
	}
	r.hlog = append(r.hlog, logEntry{seq: r.seq, epoch: epoch, msg: b})
	r.hlogBytes += len(b)
	for len(r.hlog) > 0 && (len(r.hlog) > r.s.cfg.MaxLogMessages || r.hlogBytes > r.s.cfg.MaxLogBytes) {
		e := r.hlog[0]
		r.hlog[0] = logEntry{}
		r.hlog = r.hlog[1:]
		r.hlogBytes -= len(e.msg)
		if e.epoch+1 > r.floorEpoch {
			r.floorEpoch = e.epoch + 1
		}
	}
	for c := range r.conns {
		if (c.member != nil && c.member.conn == c) || c.welcomed {
			c.sendRaw(b)
		}
	}
}

// applicationLocked relays chat and other application data to the other
// joined members.
func (r *room) applicationLocked(c *conn, m *dsproto.Application) {
	if c.member == nil || c.member.conn != c || r.groupID == nil {
		c.notAllowed("Application only from a member")
		return
	}
	if len(m.Message) > maxRelayed {
		c.notAllowed("application message too large")
		return
	}
	info, err := mls.InspectMessage(m.Message)
	if err != nil || info.WireFormat != mls.WireFormatPrivateMessage || info.ContentType != mls.ContentApplication ||
		!bytes.Equal(info.GroupID, r.groupID) || (info.Epoch != r.epoch && info.Epoch+1 != r.epoch) {
		c.notAllowed("not a PrivateMessage application message of this group's current or previous epoch")
		return
	}
	r.toMembersLocked(&dsproto.RelayedApplication{Message: m.Message, Participant: []byte(c.identity)}, c)
}

// refuseLocked drops a lobby joiner at a member's request.
func (r *room) refuseLocked(c *conn, m *dsproto.Refuse) {
	if c.member == nil || c.member.conn != c {
		c.notAllowed("Refuse only from a member")
		return
	}
	j := r.pending[hex.EncodeToString(m.Ref)]
	if j == nil {
		c.notAllowed("no such joiner")
		return
	}
	jc := j.conn
	r.dropPendingLocked(jc)
	jc.send(&dsproto.Lobby{State: dsproto.LobbyRefused, Reason: []byte("refused by a member")})
	r.detachLocked(jc)
	jc.close(0, "")
	jc.log.Info("ds: joiner refused")
}

// detach is called when c's read loop has ended.
func (r *room) detach(c *conn) {
	r.mu.Lock()
	r.detachLocked(c)
	notes := r.takeNotesLocked()
	r.mu.Unlock()
	r.s.notify(r.key, notes)
}

// detachLocked forgets c; a member's grace period starts.
func (r *room) detachLocked(c *conn) {
	if _, ok := r.conns[c]; !ok {
		return
	}
	delete(r.conns, c)
	if r.byIdentity[c.identity] == c {
		delete(r.byIdentity, c.identity)
	}
	r.dropPendingLocked(c)
	c.welcomed = false
	if mem := c.member; mem != nil {
		c.member = nil
		if mem.conn == c {
			mem.conn = nil
			mem.grace = time.AfterFunc(r.s.cfg.LeaveGrace, func() { r.expire(mem) })
		}
	}
	if r.creator == c {
		r.creator = nil
		r.groupLivenessLocked()
	}
	r.designateLocked()
}

// expire removes a member whose connection stayed away for LeaveGrace.
func (r *room) expire(m *member) {
	r.mu.Lock()
	if r.gone || r.members[m.identity] != m || m.conn != nil {
		r.mu.Unlock()
		return
	}
	r.removeMemberLocked(m, "left")
	r.groupLivenessLocked()
	notes := r.takeNotesLocked()
	r.mu.Unlock()
	r.s.notify(r.key, notes)
	r.s.dropIfEmpty(r)
}

// removeMemberLocked proposes m's removal (RFC 9420, Section 12.1.8: an
// external Remove signed by the DS, external sender 0) and forgets it. This
// is the only message the DS ever signs.
func (r *room) removeMemberLocked(m *member, reason string) {
	if m.grace != nil {
		m.grace.Stop()
		m.grace = nil
	}
	delete(r.members, m.identity)
	if m.conn != nil && m.conn.member == m {
		m.conn.member = nil
	}
	r.notes = append(r.notes, m.identity)
	if r.groupID == nil {
		return
	}
	msg, err := mls.ExternalRemove(r.groupID, r.epoch, 0, r.s.key, m.leaf)
	if err != nil {
		r.log.Error("ds: sign external Remove", "err", err)
		return
	}
	r.handshakeLocked(r.epoch, msg)
	r.log.Info("ds: removal proposed", "leaf", m.leaf, "epoch", r.epoch, "reason", reason)
}

// groupLivenessLocked forgets a group nobody is left in (every member
// removed, no creator about to join), so that a waiting joiner can start a
// new one.
func (r *room) groupLivenessLocked() {
	if r.groupID == nil || len(r.members) > 0 || r.creator != nil {
		return
	}
	r.log.Info("ds: group ended", "epoch", r.epoch)
	r.groupID, r.epoch, r.floorEpoch = nil, 0, 0
	r.hlog, r.hlogBytes = nil, 0
	for c := range r.conns {
		c.welcomed = false
	}
	r.designateLocked()
}

// designateLocked asks the longest-waiting joiner that has not declined to
// create the group, when there is no group and no creator.
func (r *room) designateLocked() {
	if r.groupID != nil || r.creator != nil || r.gone {
		return
	}
	var best *conn
	for c := range r.conns {
		if c.hello && !c.declined && c.member == nil && (best == nil || c.order < best.order) {
			best = c
		}
	}
	if best == nil {
		return
	}
	r.creator = best
	r.dropPendingLocked(best)
	best.send(&dsproto.ServerHello{
		SignatureKey: r.s.key.PublicKey(), Credential: []byte(CredentialIdentity), Role: dsproto.RoleCreate,
	})
	best.log.Info("ds: designated creator")
}

// clearLocked drops everything (room deleted or server shutting down).
func (r *room) clearLocked() {
	for _, m := range r.members {
		if m.grace != nil {
			m.grace.Stop()
		}
	}
	r.conns, r.byIdentity = map[*conn]struct{}{}, map[string]*conn{}
	r.members, r.pending = map[string]*member{}, map[string]*joiner{}
	r.hlog, r.hlogBytes, r.groupID, r.creator = nil, 0, nil, nil
}
