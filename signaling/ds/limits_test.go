package ds_test

import (
	"testing"
	"time"

	"conclave/e2ee/dsproto"
	"conclave/e2ee/mls"
	"conclave/signaling/ds"
)

// TestInvalidMLSPayloadsAreRefusedNotFatal sends well-formed protocol
// messages with bad MLS contents: each is refused with Error{not allowed},
// the connection and the room go on.
func TestInvalidMLSPayloadsAreRefusedNotFatal(t *testing.T) {
	h := newHarness(t, ds.Config{})
	ms := h.meeting(roomA, "alice", "bob")
	alice, bob := ms[0], ms[1]
	joiner := h.connect(roomA, "joiner", dsproto.RoleJoin)

	res, err := alice.group.Commit(mls.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	alice.group.DiscardPendingCommit()
	app, err := alice.group.Seal([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	kp := newBundle(t, "k").KeyPackage().Bytes()
	tests := []struct {
		name string
		c    *client
		m    dsproto.Message
	}{
		{"garbage commit", alice.c, &dsproto.Commit{Commit: []byte{0, 1, 0, 1, 0xff}}},
		{"key package as commit", alice.c, &dsproto.Commit{Commit: kp}},
		{"garbage welcome", alice.c, &dsproto.Commit{Commit: res.Commit, Welcome: []byte("nope")}},
		{"commit as welcome", alice.c, &dsproto.Commit{Commit: res.Commit, Welcome: res.Commit}},
		{"garbage application", alice.c, &dsproto.Application{Message: []byte{0, 1, 0, 2}}},
		{"commit as application", alice.c, &dsproto.Application{Message: res.Commit}},
		{"application as key package", joiner.c, &dsproto.KeyPackage{KeyPackage: app}},
		{"truncated key package", joiner.c, &dsproto.KeyPackage{KeyPackage: kp[:len(kp)-3]}},
		{"second hello", alice.c, &dsproto.Hello{}},
		{"group created by a member", alice.c, &dsproto.GroupCreated{GroupID: []byte("g")}},
		{"joined twice", bob.c, &dsproto.Joined{Epoch: 1, Leaf: 1}},
		{"refuse unknown", bob.c, &dsproto.Refuse{Ref: []byte("unknown")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.send(tc.m)
			if e := expect[*dsproto.Error](tc.c, dsproto.TypeJoinRequest, dsproto.TypeLobbyGone); e.Code != dsproto.CodeNotAllowed {
				t.Fatalf("code %d, want not allowed", e.Code)
			}
		})
	}
	// Nothing was relayed or sequenced, and the group still works.
	if err := hasType(bob.c.barrier(), dsproto.TypeHandshake, dsproto.TypeRelayedApplication); err != nil {
		t.Fatal(err)
	}
	alice.commit(mls.CommitOptions{}, true)
	bob.processHandshake()
	sameEpoch(t, alice, bob)
}

func TestRoomConnectionLimit(t *testing.T) {
	h := newHarness(t, ds.Config{MaxConns: 2})
	h.connect(roomA, "one", dsproto.RoleCreate)
	h.connect(roomA, "two", dsproto.RoleJoin)
	c := h.dial(roomA, "three")
	if e := c.closed(); e == nil || e.Code != dsproto.CodeLimit {
		t.Fatalf("got %+v, want Error{limit}", e)
	}
	// Another room is not affected.
	h.connect(roomB, "four", dsproto.RoleCreate)
}

// TestSlowReaderIsDropped: a member that stops reading is disconnected once
// its queue passes the bound; the sender and the room are not held up.
func TestSlowReaderIsDropped(t *testing.T) {
	h := newHarness(t, ds.Config{SendQueueBytes: 2 << 20})
	ms := h.meeting(roomA, "alice", "bob")
	alice := ms[0]
	// carol joins with a connection that never reads after joining.
	carol := h.connect(roomA, "carol", dsproto.RoleJoin)
	carol.knock(nil)
	alice.add(1)
	ms[1].processHandshake(dsproto.TypeJoinRequest)
	carol.join()
	eventually(t, "carol admitted", func() string {
		if !h.admitted(roomA, "carol") {
			return "not yet"
		}
		return ""
	})
	// carol stops reading: the TCP buffers, then its DS queue, fill up.
	carol.c.hold.Lock()
	t.Cleanup(carol.c.hold.Unlock)
	big := make([]byte, 900<<10)
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("carol never dropped")
		}
		msg, err := alice.group.Seal(big, nil)
		if err != nil {
			t.Fatal(err)
		}
		alice.c.send(&dsproto.Application{Message: msg})
		// bob keeps reading and receives every message.
		expect[*dsproto.RelayedApplication](ms[1].c, dsproto.TypeLobbyGone)
		if rooms := h.srv.Rooms(); len(rooms) == 1 && rooms[0].Conns == 2 {
			break
		}
	}
	if !h.admitted(roomA, "carol") {
		t.Fatal("a dropped member is removed only after LeaveGrace")
	}
}

// TestResumeBeyondTheLogJoinsAfresh: the handshake log is bounded; a member
// that missed more than it holds cannot resume and is removed.
func TestResumeBeyondTheLogJoinsAfresh(t *testing.T) {
	h := newHarness(t, ds.Config{MaxLogMessages: 2, LeaveGrace: time.Minute})
	ms := h.meeting(roomA, "alice", "bob", "carol")
	alice, bob, carol := ms[0], ms[1], ms[2]
	bob.c.ws.Close()
	<-bob.c.done
	carol.c.ws.Close()
	<-carol.c.done
	carolEpoch := carol.group.Epoch()
	alice.commit(mls.CommitOptions{}, true)
	alice.commit(mls.CommitOptions{}, true)
	// carol's state is one epoch further: the log (2 messages) covers it.
	carol.group = nil
	for _, tc := range []struct {
		m     *member
		have  uint64
		group []byte
		leaf  uint32
		role  uint8
	}{
		{bob, bob.group.Epoch() - 1, bob.group.GroupID(), bob.group.OwnLeaf(), dsproto.RoleJoin},
		{carol, carolEpoch + 1, alice.group.GroupID(), 2, dsproto.RoleResume},
	} {
		c := h.dial(roomA, tc.m.name)
		c.send(&dsproto.Hello{HaveEpoch: tc.have, GroupID: tc.group, Leaf: tc.leaf})
		sh := expect[*dsproto.ServerHello](c)
		if sh.Role != tc.role {
			t.Fatalf("%s: role %d, want %d", tc.m.name, sh.Role, tc.role)
		}
		if tc.role == dsproto.RoleResume {
			hs := expect[*dsproto.Handshake](c)
			info, err := mls.InspectMessage(hs.Message)
			if err != nil || info.Epoch < tc.have {
				t.Fatalf("replayed a handshake of epoch %d, before %d", info.Epoch, tc.have)
			}
		}
	}
	// bob's old leaf is removed at once.
	rec := alice.processHandshake()
	if rec.Proposal != mls.ProposalRemove || rec.Sender.Type != mls.SenderExternal {
		t.Fatalf("got %+v", rec)
	}
}
