package session

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"

	"conclave/e2ee/dsproto"
	"conclave/e2ee/mls"
)

// This file is an in-memory delivery service following
// docs/e2ee-protocol.md, "DS behaviour", and a network of sessions wired to
// it with a simulated clock. Adversarial tests reach into it to send what a
// malicious server would.

// encodeIn encodes a DS -> client message.
func encodeIn(m any) []byte {
	var d dsproto.Message
	switch m := m.(type) {
	case inHello:
		d = &dsproto.ServerHello{SignatureKey: m.dsKey, Credential: m.dsCredential, Role: m.role, Epoch: m.epoch, GroupID: m.groupID}
	case inJoinRequest:
		d = &dsproto.JoinRequest{Ref: m.ref, KeyPackage: m.keyPackage, Proof: m.proof, Participant: []byte(m.participant)}
	case inHandshake:
		d = &dsproto.Handshake{Seq: m.seq, Message: m.message}
	case inCommitResult:
		d = &dsproto.CommitResult{OK: m.ok, Epoch: m.epoch}
	case inWelcome:
		d = &dsproto.MLSWelcome{Welcome: m.welcome}
	case inApplication:
		d = &dsproto.RelayedApplication{Message: m.message, Participant: []byte(m.participant)}
	case inLobby:
		d = &dsproto.Lobby{State: m.state, Reason: []byte(m.reason)}
	case inLobbyGone:
		d = &dsproto.LobbyGone{Ref: m.ref}
	case inError:
		d = &dsproto.Error{Code: m.code, Text: []byte(m.text)}
	case inRefreshToken:
		d = &dsproto.RefreshToken{Token: []byte(m.token)}
	default:
		panic(fmt.Sprintf("encodeIn %T", m))
	}
	b, err := dsproto.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

// decodeOut decodes a client -> DS message.
func decodeOut(data []byte) (any, error) {
	d, err := dsproto.Unmarshal(data)
	if err != nil {
		return nil, err
	}
	switch d := d.(type) {
	case *dsproto.Hello:
		return outHello{haveEpoch: d.HaveEpoch, groupID: d.GroupID, leaf: d.Leaf}, nil
	case *dsproto.KeyPackage:
		return outKeyPackage{keyPackage: d.KeyPackage, proof: d.Proof}, nil
	case *dsproto.Commit:
		return outCommit{commit: d.Commit, welcome: d.Welcome, groupInfo: d.GroupInfo}, nil
	case *dsproto.Application:
		return outApplication{message: d.Message}, nil
	case *dsproto.Refuse:
		return outRefuse{ref: d.Ref}, nil
	case *dsproto.Joined:
		return outJoined{epoch: d.Epoch, leaf: d.Leaf}, nil
	case *dsproto.GroupCreated:
		return outGroupCreated{groupID: d.GroupID, epoch: d.Epoch}, nil
	}
	return nil, fmt.Errorf("%v from a client", d.Type())
}

const fakeLeaveGrace = 5 * time.Second

type dsConn struct {
	id          int
	participant string
	joined      bool
	leaf        uint32
	gone        bool
	goneAt      time.Time
	removed     bool
	inbox       [][]byte
}

type dsJoiner struct {
	conn  *dsConn
	ref   []byte
	kp    []byte
	proof []byte
}

type fakeDS struct {
	t       testing.TB
	key     *mls.SignatureKey
	cred    []byte
	conns   []*dsConn
	creator *dsConn
	groupID []byte
	epoch   uint64
	seq     uint64
	pending map[string]*dsJoiner
	// holdJoinRequests keeps JoinRequests from members (a server answering
	// a joiner itself).
	holdJoinRequests bool
	// dropApplications loses that many application messages.
	dropApplications int
	// seen records every byte the DS handled, for tripwire checks.
	seen [][]byte
}

func newFakeDS(t testing.TB) *fakeDS {
	k, err := mls.GenerateSignatureKey(CipherSuite, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeDS{t: t, key: k, cred: []byte("conclave delivery service test"), pending: map[string]*dsJoiner{}}
}

func (d *fakeDS) to(c *dsConn, m any) {
	if c.gone {
		return
	}
	b := encodeIn(m)
	d.seen = append(d.seen, b)
	c.inbox = append(c.inbox, b)
}

func (d *fakeDS) members(except *dsConn) []*dsConn {
	var out []*dsConn
	for _, c := range d.conns {
		if c.joined && !c.gone && c != except {
			out = append(out, c)
		}
	}
	return out
}

func (d *fakeDS) connect(participant string) *dsConn {
	c := &dsConn{id: len(d.conns), participant: participant}
	d.conns = append(d.conns, c)
	return c
}

func (d *fakeDS) hello(c *dsConn, h outHello) {
	role := uint8(roleJoin)
	switch {
	case h.haveEpoch > 0 && bytes.Equal(h.groupID, d.groupID):
		role = roleResume
		c.joined, c.leaf = true, h.leaf
	case d.groupID == nil && (d.creator == nil || d.creator.gone) && !d.knocked():
		role = roleCreate
		d.creator = c
	}
	d.to(c, inHello{dsKey: d.key.PublicKey(), dsCredential: d.cred, role: role, epoch: d.epoch, groupID: d.groupID})
}

func (d *fakeDS) receive(c *dsConn, data []byte, now time.Time) {
	d.seen = append(d.seen, data)
	m, err := decodeOut(data)
	if err != nil {
		d.t.Fatalf("DS: client %d sent a bad message: %v", c.id, err)
	}
	switch m := m.(type) {
	case outHello:
		d.hello(c, m)
	case outGroupCreated:
		if c != d.creator {
			d.t.Fatalf("DS: GroupCreated from a non-creator")
		}
		d.groupID, d.epoch = bytes.Clone(m.groupID), m.epoch
	case outJoined:
		c.joined, c.leaf = true, m.leaf
		for _, j := range d.sortedPending() {
			d.to(c, inJoinRequest{ref: j.ref, keyPackage: j.kp, proof: j.proof, participant: j.conn.participant})
		}
	case outKeyPackage:
		kp, err := mls.ParseKeyPackage(m.keyPackage)
		if err != nil {
			d.to(c, inError{code: 1, text: "bad key package"})
			return
		}
		if d.creator == c {
			d.creator = nil // a knocker declines to create
		}
		j := &dsJoiner{conn: c, ref: kp.Ref(), kp: m.keyPackage, proof: m.proof}
		d.pending[hex.EncodeToString(j.ref)] = j
		if len(m.proof) == 0 {
			d.to(c, inLobby{state: lobbyWaiting})
		}
		if d.holdJoinRequests {
			return
		}
		for _, mem := range d.members(nil) {
			d.to(mem, inJoinRequest{ref: j.ref, keyPackage: j.kp, proof: j.proof, participant: c.participant})
		}
	case outCommit:
		info, err := mls.InspectMessage(m.commit)
		if err != nil || info.Epoch != d.epoch || !c.joined || info.Sender == nil || info.Sender.Type != mls.SenderMember {
			d.to(c, inCommitResult{ok: false, epoch: d.epoch})
			return
		}
		d.epoch++
		d.seq++
		for _, mem := range d.members(nil) {
			d.to(mem, inHandshake{seq: d.seq, message: m.commit})
		}
		d.to(c, inCommitResult{ok: true, epoch: d.epoch})
		if len(m.welcome) > 0 {
			wi, err := mls.InspectMessage(m.welcome)
			if err != nil {
				return
			}
			for _, ref := range wi.KeyPackageRefs {
				key := hex.EncodeToString(ref)
				if j, ok := d.pending[key]; ok {
					d.to(j.conn, inWelcome{welcome: m.welcome})
					delete(d.pending, key)
					for _, mem := range d.members(nil) {
						d.to(mem, inLobbyGone{ref: ref})
					}
				}
			}
		}
	case outApplication:
		if d.dropApplications > 0 {
			d.dropApplications-- // lost, as when sealed in an epoch the others left
			return
		}
		for _, mem := range d.members(c) {
			d.to(mem, inApplication{message: m.message, participant: c.participant})
		}
	case outRefuse:
		key := hex.EncodeToString(m.ref)
		if j, ok := d.pending[key]; ok {
			delete(d.pending, key)
			d.to(j.conn, inLobby{state: lobbyRefused})
			for _, mem := range d.members(nil) {
				d.to(mem, inLobbyGone{ref: m.ref})
			}
		}
	}
}

// knocked: a waiting knocker declined to create; a later connection is
// designated (the real DS re-designates; the fake designates the next).
func (d *fakeDS) knocked() bool { return false }

func (d *fakeDS) sortedPending() []*dsJoiner {
	var js []*dsJoiner
	for _, j := range d.pending {
		js = append(js, j)
	}
	slices.SortFunc(js, func(a, b *dsJoiner) int { return a.conn.id - b.conn.id })
	return js
}

// disconnect marks a connection gone; its leaf is proposed for removal
// after fakeLeaveGrace.
func (d *fakeDS) disconnect(c *dsConn, now time.Time) {
	c.gone, c.goneAt = true, now
	c.inbox = nil
	for k, j := range d.pending {
		if j.conn == c {
			delete(d.pending, k)
		}
	}
}

// tick proposes, once, the removal of members gone longer than the grace
// period, as the real DS does.
func (d *fakeDS) tick(now time.Time, stillMember func(leaf uint32) bool) {
	for _, c := range d.conns {
		if !c.joined || !c.gone || c.removed || now.Sub(c.goneAt) < fakeLeaveGrace {
			continue
		}
		if !stillMember(c.leaf) {
			c.joined = false
			continue
		}
		p, err := mls.ExternalRemove(d.groupID, d.epoch, 0, d.key, c.leaf)
		if err != nil {
			d.t.Fatalf("DS: external remove: %v", err)
		}
		c.removed = true
		d.broadcast(p)
	}
}

// broadcast sends a handshake message to every member.
func (d *fakeDS) broadcast(msg []byte) {
	d.seq++
	for _, mem := range d.members(nil) {
		d.to(mem, inHandshake{seq: d.seq, message: msg})
	}
}
