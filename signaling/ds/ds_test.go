package ds_test

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"conclave/e2ee/dsproto"
	"conclave/e2ee/mls"
	"conclave/signaling/ds"
)

func TestFirstCommitPerEpochWins(t *testing.T) {
	h := newHarness(t, ds.Config{})
	ms := h.meeting(roomA, "alice", "bob")
	alice, bob := ms[0], ms[1]
	sameEpoch(t, alice, bob)
	epoch := alice.group.Epoch()

	// Both commit for the same epoch; alice's reaches the DS first.
	alice.commit(mls.CommitOptions{}, true)
	cr := bob.commit(mls.CommitOptions{}, false)
	if cr.Epoch != epoch+1 {
		t.Fatalf("loser told to rebase onto epoch %d, want %d", cr.Epoch, epoch+1)
	}
	// The loser discards its commit and applies the winner's.
	bob.group.DiscardPendingCommit()
	bob.processHandshake()
	sameEpoch(t, alice, bob)

	// Racing for real: exactly one of two concurrent commits is accepted.
	type result struct {
		name string
		ok   bool
	}
	results := make(chan result, 2)
	var wg sync.WaitGroup
	for _, m := range []*member{alice, bob} {
		res, err := m.group.Commit(mls.CommitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.c.send(&dsproto.Commit{Commit: res.Commit})
		}()
	}
	wg.Wait()
	for _, m := range []*member{alice, bob} {
		// Each sees exactly one Handshake (the winner) and its own result.
		var hs *dsproto.Handshake
		var cr *dsproto.CommitResult
		for hs == nil || cr == nil {
			switch v := m.c.next().(type) {
			case *dsproto.Handshake:
				if hs != nil {
					t.Fatalf("%s: two commits accepted for one epoch", m.name)
				}
				hs = v
			case *dsproto.CommitResult:
				cr = v
			default:
				t.Fatalf("%s: unexpected %v", m.name, v.Type())
			}
		}
		if !cr.OK {
			m.group.DiscardPendingCommit()
		}
		if _, err := m.group.ProcessMessage(hs.Message); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		results <- result{m.name, cr.OK}
	}
	close(results)
	wins := 0
	for r := range results {
		if r.ok {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d commits accepted for one epoch, want 1", wins)
	}
	sameEpoch(t, alice, bob)
	if alice.group.Epoch() != epoch+2 {
		t.Fatalf("epoch %d, want %d", alice.group.Epoch(), epoch+2)
	}
}

func TestCommitRefusedUnlessFromTheMembersLeaf(t *testing.T) {
	h := newHarness(t, ds.Config{})
	ms := h.meeting(roomA, "alice", "bob")
	alice, bob := ms[0], ms[1]
	res, err := alice.group.Commit(mls.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	alice.group.DiscardPendingCommit()
	// bob relays alice's commit: the sender is not bob's leaf.
	bob.c.send(&dsproto.Commit{Commit: res.Commit})
	if e := expect[*dsproto.Error](bob.c); e.Code != dsproto.CodeNotAllowed {
		t.Fatalf("code %d, want not allowed", e.Code)
	}
	// A joiner in the lobby cannot commit either.
	j := h.connect(roomA, "joiner", dsproto.RoleJoin)
	j.knock(nil)
	j.c.send(&dsproto.Commit{Commit: res.Commit})
	if e := expect[*dsproto.Error](j.c); e.Code != dsproto.CodeNotAllowed {
		t.Fatalf("code %d, want not allowed", e.Code)
	}
	// A commit as PrivateMessage is refused (the DS must read its sender).
	priv, err := alice.group.Seal([]byte("not a commit"), nil)
	if err != nil {
		t.Fatal(err)
	}
	alice.c.send(&dsproto.Commit{Commit: priv})
	if e := expect[*dsproto.Error](alice.c, dsproto.TypeJoinRequest); e.Code != dsproto.CodeNotAllowed {
		t.Fatalf("code %d, want not allowed", e.Code)
	}
	// Nothing was broadcast.
	if err := hasType(bob.c.barrier(), dsproto.TypeHandshake); err != nil {
		t.Fatal(err)
	}
}

func TestWelcomeReachesOnlyTheJoinerItNames(t *testing.T) {
	h := newHarness(t, ds.Config{})
	alice := h.meeting(roomA, "alice")[0]
	j1 := h.connect(roomA, "j1", dsproto.RoleJoin)
	ref1 := j1.knock(nil)
	j2 := h.connect(roomA, "j2", dsproto.RoleJoin)
	j2.knock(nil)

	var kp1 *mls.KeyPackage
	for kp1 == nil {
		jr := expect[*dsproto.JoinRequest](alice.c)
		if bytes.Equal(jr.Ref, ref1) {
			var err error
			if kp1, err = mls.ParseKeyPackage(jr.KeyPackage); err != nil {
				t.Fatal(err)
			}
			if string(jr.Participant) != "j1" {
				t.Fatalf("JoinRequest names participant %q, want j1", jr.Participant)
			}
		}
	}
	alice.commit(mls.CommitOptions{Add: []*mls.KeyPackage{kp1}}, true)
	j1.join()
	sameEpoch(t, alice, j1)
	if gone := expect[*dsproto.LobbyGone](alice.c, dsproto.TypeJoinRequest); !bytes.Equal(gone.Ref, ref1) {
		t.Fatal("LobbyGone names another joiner")
	}
	if err := hasType(j2.c.barrier(), dsproto.TypeMLSWelcome, dsproto.TypeHandshake, dsproto.TypeRelayedApplication); err != nil {
		t.Fatalf("j2, still in the lobby: %v", err)
	}
	if h.admitted(roomA, "j2") {
		t.Fatal("j2 admitted without joining")
	}
}

func TestApplicationReachesOnlyJoinedMembers(t *testing.T) {
	h := newHarness(t, ds.Config{})
	ms := h.meeting(roomA, "alice", "bob", "carol")
	alice, bob, carol := ms[0], ms[1], ms[2]
	lobby := h.connect(roomA, "knocker", dsproto.RoleJoin)
	lobby.knock(nil)
	other := h.meeting(roomB, "dave")[0]

	msg, err := alice.group.Seal([]byte("chat"), nil)
	if err != nil {
		t.Fatal(err)
	}
	alice.c.send(&dsproto.Application{Message: msg})
	for _, m := range []*member{bob, carol} {
		ra := expect[*dsproto.RelayedApplication](m.c, dsproto.TypeJoinRequest)
		if string(ra.Participant) != "alice" || !bytes.Equal(ra.Message, msg) {
			t.Fatalf("%s: relayed %q from %q", m.name, ra.Message, ra.Participant)
		}
		rec, err := m.group.ProcessMessage(ra.Message)
		if err != nil || string(rec.ApplicationData) != "chat" {
			t.Fatalf("%s: %v %q", m.name, err, rec.ApplicationData)
		}
	}
	for _, c := range []*client{alice.c, lobby.c, other.c} {
		if err := hasType(c.barrier(), dsproto.TypeRelayedApplication); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	// A lobby joiner cannot send application messages either.
	lobby.c.send(&dsproto.Application{Message: msg})
	if e := expect[*dsproto.Error](lobby.c); e.Code != dsproto.CodeNotAllowed {
		t.Fatalf("code %d", e.Code)
	}
	// An application message two epochs old is refused.
	old, err := bob.group.Seal([]byte("old"), nil)
	if err != nil {
		t.Fatal(err)
	}
	alice.commit(mls.CommitOptions{}, true)
	alice.commit(mls.CommitOptions{}, true)
	bob.processHandshake(dsproto.TypeJoinRequest)
	bob.processHandshake()
	bob.c.send(&dsproto.Application{Message: old})
	if e := expect[*dsproto.Error](bob.c); e.Code != dsproto.CodeNotAllowed {
		t.Fatalf("code %d", e.Code)
	}
}

func TestRefuseDropsLobbyJoiner(t *testing.T) {
	h := newHarness(t, ds.Config{})
	alice := h.meeting(roomA, "alice")[0]
	j := h.connect(roomA, "knocker", dsproto.RoleJoin)
	ref := j.knock(nil)
	jr := expect[*dsproto.JoinRequest](alice.c)
	if len(jr.Proof) != 0 || !bytes.Equal(jr.Ref, ref) {
		t.Fatal("JoinRequest does not carry the knock")
	}
	alice.c.send(&dsproto.Refuse{Ref: ref})
	if l := expect[*dsproto.Lobby](j.c); l.State != dsproto.LobbyRefused {
		t.Fatalf("lobby state %d, want refused", l.State)
	}
	j.c.closed()
	if gone := expect[*dsproto.LobbyGone](alice.c); !bytes.Equal(gone.Ref, ref) {
		t.Fatal("LobbyGone names another joiner")
	}
	// The refused KeyPackage is no longer pending: refusing again fails.
	alice.c.send(&dsproto.Refuse{Ref: ref})
	if e := expect[*dsproto.Error](alice.c); e.Code != dsproto.CodeNotAllowed {
		t.Fatalf("code %d", e.Code)
	}
	// Only members may refuse.
	j2 := h.connect(roomA, "j2", dsproto.RoleJoin)
	ref2 := j2.knock(nil)
	j3 := h.connect(roomA, "j3", dsproto.RoleJoin)
	j3.knock(nil)
	j3.c.send(&dsproto.Refuse{Ref: ref2})
	if e := expect[*dsproto.Error](j3.c); e.Code != dsproto.CodeNotAllowed {
		t.Fatalf("code %d", e.Code)
	}
	if err := hasType(j2.c.barrier(), dsproto.TypeLobby); err != nil {
		t.Fatal(err)
	}
}

// TestLeftRemovesAtOnce: a member that said goodbye (Server.Left, from a
// LeaveRequest on /rtc) is removed by the DS's external Remove at once, not
// after LeaveGrace, and its /e2ee connection is closed.
func TestLeftRemovesAtOnce(t *testing.T) {
	h := newHarness(t, ds.Config{LeaveGrace: time.Minute})
	ms := h.meeting(roomA, "alice", "bob", "carol")
	alice, bob, carol := ms[0], ms[1], ms[2]
	h.srv.Left(roomA, "bob")
	for _, m := range []*member{alice, carol} {
		rec := m.processHandshake()
		if rec.Type != mls.ContentProposal || rec.Proposal != mls.ProposalRemove || rec.Sender.Type != mls.SenderExternal {
			t.Fatalf("%s: got %+v, want the DS's external Remove", m.name, rec)
		}
	}
	if h.admitted(roomA, "bob") {
		t.Fatal("bob still admitted after leaving")
	}
	if err := bob.c.ws.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := bob.c.ws.ReadMessage()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("bob's /e2ee connection was not closed")
		}
		if err != nil {
			break // closed by the DS
		}
	}
	h.srv.Left(roomA, "nobody") // unknown: nothing happens
	h.srv.Left("no-such-room", "bob")
}

func TestDepartedMemberRemovedByDSSignedRemove(t *testing.T) {
	h := newHarness(t, ds.Config{LeaveGrace: 200 * time.Millisecond})
	ms := h.meeting(roomA, "alice", "bob", "carol")
	alice, bob, carol := ms[0], ms[1], ms[2]
	bobLeaf := bob.group.OwnLeaf()
	before := h.admissionCalls(roomA, "bob")
	bob.c.ws.Close()

	// After LeaveGrace, members get an external Remove signed by the DS,
	// which a real group accepts under AllowExternalRemoveOnly.
	for _, m := range []*member{alice, carol} {
		rec := m.processHandshake()
		if rec.Type != mls.ContentProposal || rec.Proposal != mls.ProposalRemove ||
			rec.Sender.Type != mls.SenderExternal || rec.Sender.Index != 0 {
			t.Fatalf("%s: got %+v, want an external Remove from sender 0", m.name, rec)
		}
	}
	if h.admitted(roomA, "bob") {
		t.Fatal("bob still admitted after removal")
	}
	if h.admissionCalls(roomA, "bob") != before+1 {
		t.Fatal("the media plane was not told of bob's removal")
	}
	// The committer commits it; bob's leaf is gone for everyone.
	alice.commit(mls.CommitOptions{}, true)
	carol.processHandshake()
	sameEpoch(t, alice, carol)
	for _, m := range alice.group.Members() {
		if m.Leaf == bobLeaf {
			t.Fatal("bob's leaf is still in the tree")
		}
	}
	// A group that refuses external proposals from anyone but the listed
	// DS key would refuse a Remove signed by another key.
	forger, err := mls.GenerateSignatureKey(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := mls.ExternalRemove(alice.group.GroupID(), alice.group.Epoch(), 0, forger, carol.group.OwnLeaf())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.group.ProcessMessage(forged); err == nil {
		t.Fatal("a Remove signed by another key was accepted")
	}
}

func TestResumeWithinGraceReplaysMissedHandshakes(t *testing.T) {
	h := newHarness(t, ds.Config{LeaveGrace: 3 * time.Second})
	ms := h.meeting(roomA, "alice", "bob")
	alice, bob := ms[0], ms[1]
	have := bob.group.Epoch()
	bob.c.ws.Close()
	<-bob.c.done

	// While bob is away, alice commits twice.
	alice.commit(mls.CommitOptions{}, true)
	alice.commit(mls.CommitOptions{}, true)

	c := h.dial(roomA, "bob")
	c.send(&dsproto.Hello{HaveEpoch: have, GroupID: bob.group.GroupID(), Leaf: bob.group.OwnLeaf()})
	sh := expect[*dsproto.ServerHello](c)
	if sh.Role != dsproto.RoleResume || sh.Epoch != have+2 {
		t.Fatalf("role %d epoch %d, want resume at %d", sh.Role, sh.Epoch, have+2)
	}
	bob.c = c
	bob.processHandshake()
	bob.processHandshake()
	sameEpoch(t, alice, bob)
	if !h.admitted(roomA, "bob") {
		t.Fatal("bob not admitted after resuming")
	}
	// bob is a member again: chat reaches it, and no Remove was proposed.
	msg, err := alice.group.Seal([]byte("welcome back"), nil)
	if err != nil {
		t.Fatal(err)
	}
	alice.c.send(&dsproto.Application{Message: msg})
	expect[*dsproto.RelayedApplication](bob.c)
	if err := hasType(alice.c.barrier(), dsproto.TypeHandshake); err != nil {
		t.Fatalf("alice: %v", err)
	}
}

func TestResumeRefusedJoinsAfresh(t *testing.T) {
	h := newHarness(t, ds.Config{LeaveGrace: 3 * time.Second})
	ms := h.meeting(roomA, "alice", "bob")
	alice, bob := ms[0], ms[1]
	bob.c.ws.Close()
	<-bob.c.done
	// A Hello with another leaf cannot resume: bob joins afresh and its old
	// leaf is removed at once.
	c := h.dial(roomA, "bob")
	c.send(&dsproto.Hello{HaveEpoch: bob.group.Epoch(), GroupID: bob.group.GroupID(), Leaf: bob.group.OwnLeaf() + 5})
	if sh := expect[*dsproto.ServerHello](c); sh.Role != dsproto.RoleJoin {
		t.Fatalf("role %d, want join", sh.Role)
	}
	rec := alice.processHandshake()
	if rec.Proposal != mls.ProposalRemove || rec.Sender.Type != mls.SenderExternal {
		t.Fatalf("got %+v, want the DS's Remove", rec)
	}
	if h.admitted(roomA, "bob") {
		t.Fatal("bob admitted before joining again")
	}
}

func TestRoomStateGoneAfterEveryoneLeaves(t *testing.T) {
	h := newHarness(t, ds.Config{LeaveGrace: 100 * time.Millisecond})
	ms := h.meeting(roomA, "alice", "bob")
	j := h.connect(roomA, "knocker", dsproto.RoleJoin)
	j.knock(nil)
	for _, c := range []*client{ms[0].c, ms[1].c, j.c} {
		c.ws.Close()
	}
	eventually(t, "room state deleted", func() string {
		if n := len(h.srv.Rooms()); n != 0 {
			return "rooms left"
		}
		return ""
	})
	// A new connection starts from nothing.
	m := h.connect(roomA, "alice", dsproto.RoleCreate)
	if m.hello.Epoch != 0 || len(m.hello.GroupID) != 0 {
		t.Fatalf("new room state carries epoch %d and a group", m.hello.Epoch)
	}
}

func TestCreatorDesignation(t *testing.T) {
	h := newHarness(t, ds.Config{})
	first := h.connect(roomA, "first", dsproto.RoleCreate)
	second := h.connect(roomA, "second", dsproto.RoleJoin)
	second.knock(nil)
	third := h.connect(roomA, "third", dsproto.RoleJoin)
	third.knock(nil)

	// The designated creator leaves before creating: the longest waiting
	// joiner is asked.
	first.c.ws.Close()
	sh := expect[*dsproto.ServerHello](second.c)
	if sh.Role != dsproto.RoleCreate {
		t.Fatalf("role %d, want create", sh.Role)
	}
	// It declines by knocking (no link secret): the next one is asked.
	second.knock(nil)
	if sh := expect[*dsproto.ServerHello](third.c); sh.Role != dsproto.RoleCreate {
		t.Fatalf("role %d, want create", sh.Role)
	}
	third.hello = sh
	third.create()
	// The waiting knock reaches the new group's creator.
	jr := expect[*dsproto.JoinRequest](third.c)
	if string(jr.Participant) != "second" {
		t.Fatalf("JoinRequest from %q", jr.Participant)
	}
	// GroupCreated from anyone else, or twice, is refused.
	second.c.send(&dsproto.GroupCreated{GroupID: []byte("x")})
	if e := expect[*dsproto.Error](second.c); e.Code != dsproto.CodeNotAllowed {
		t.Fatalf("code %d", e.Code)
	}
	// Joined without a Welcome is refused.
	second.c.send(&dsproto.Joined{Epoch: 0, Leaf: 1})
	if e := expect[*dsproto.Error](second.c); e.Code != dsproto.CodeNotAllowed {
		t.Fatalf("code %d", e.Code)
	}
	if h.admitted(roomA, "second") {
		t.Fatal("admitted on its own word")
	}
}

func TestNewConnectionReplacesOld(t *testing.T) {
	h := newHarness(t, ds.Config{})
	alice := h.meeting(roomA, "alice")[0]
	c := h.dial(roomA, "alice")
	c.send(&dsproto.Hello{HaveEpoch: alice.group.Epoch(), GroupID: alice.group.GroupID(), Leaf: alice.group.OwnLeaf()})
	if e := alice.c.closed(); e == nil || e.Code != dsproto.CodeReplaced {
		t.Fatalf("old connection got %+v, want Error{replaced}", e)
	}
	if sh := expect[*dsproto.ServerHello](c); sh.Role != dsproto.RoleResume {
		t.Fatalf("role %d, want resume", sh.Role)
	}
}

func TestBadInputClosesWithError(t *testing.T) {
	h := newHarness(t, ds.Config{})
	tooBig := make([]byte, dsproto.MaxMessageSize+1)
	tooBig[0], tooBig[1] = dsproto.Version, byte(dsproto.TypeApplication)
	tests := []struct {
		name string
		kind int
		data []byte
		code uint16
	}{
		{"text message", websocket.TextMessage, []byte("hello"), dsproto.CodeMalformed},
		{"empty", websocket.BinaryMessage, nil, dsproto.CodeMalformed},
		{"truncated", websocket.BinaryMessage, []byte{1, 1, 0, 0}, dsproto.CodeMalformed},
		{"trailing byte", websocket.BinaryMessage, []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}, dsproto.CodeMalformed},
		{"version 2", websocket.BinaryMessage, []byte{2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, dsproto.CodeVersion},
		{"unknown type", websocket.BinaryMessage, []byte{1, 99}, dsproto.CodeUnknown},
		{"server type from a client", websocket.BinaryMessage, []byte{1, byte(dsproto.TypeLobbyGone), 0}, dsproto.CodeUnknown},
		{"oversized", websocket.BinaryMessage, tooBig, dsproto.CodeTooLarge},
		{"field over bound", websocket.BinaryMessage, append([]byte{1, 5, 0x40, 65}, make([]byte, 65)...), dsproto.CodeTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial(roomA, "bad-"+tc.name)
			c.sendRaw(tc.kind, tc.data)
			e := c.closed()
			if e == nil || e.Code != tc.code {
				t.Fatalf("got %+v, want Error{%d} and a close", e, tc.code)
			}
		})
	}
	// A message before Hello, or a second Hello, is answered but tolerated.
	c := h.dial(roomA, "early")
	c.send(&dsproto.Joined{})
	if e := expect[*dsproto.Error](c); e.Code != dsproto.CodeNotAllowed {
		t.Fatalf("code %d", e.Code)
	}
	// The server still serves.
	m := h.meeting(roomB, "after")
	if len(m) != 1 {
		t.Fatal("no meeting after bad input")
	}
}

func TestTokens(t *testing.T) {
	h := newHarness(t, ds.Config{})
	for _, tc := range []struct {
		name, url string
	}{
		{"none", h.url("")},
		{"garbage", h.url("not-a-token")},
		{"other key", h.url(func() string {
			// One character of the signature changed, to another one and
			// not in the last place, whose low bits base64 decoding
			// ignores (setting the last two to "AA" left the signature
			// as it was in 1 of 256 runs).
			tok := []byte(h.token(roomA, "x"))
			if i := len(tok) - 5; tok[i] == 'A' {
				tok[i] = 'B'
			} else {
				tok[i] = 'A'
			}
			return string(tok)
		}())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := websocket.DefaultDialer.Dial(tc.url, nil)
			if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("dial: %v, %v; want 401", err, resp)
			}
		})
	}
	// A token names one room: it reaches that room's state and no other.
	alice := h.meeting(roomA, "alice")[0]
	eve := h.connect(roomB, "eve", dsproto.RoleCreate)
	if len(eve.hello.GroupID) != 0 {
		t.Fatal("a token for room B sees room A's group")
	}
	msg, err := alice.group.Seal([]byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	alice.c.send(&dsproto.Application{Message: msg})
	eve.c.send(&dsproto.Refuse{Ref: []byte("x")}) // not a member of A either
	if err := hasType(eve.c.barrier(), dsproto.TypeRelayedApplication, dsproto.TypeJoinRequest); err != nil {
		t.Fatal(err)
	}
	if h.admitted(roomA, "eve") {
		t.Fatal("eve admitted to room A")
	}
}

func TestAdminRemove(t *testing.T) {
	h := newHarness(t, ds.Config{})
	ms := h.meeting(roomA, "alice", "bob")
	if err := h.srv.Remove(roomA, "bob"); err != nil {
		t.Fatal(err)
	}
	if e := ms[1].c.closed(); e == nil || e.Code != dsproto.CodeRemoved {
		t.Fatalf("bob got %+v, want Error{removed}", e)
	}
	rec := ms[0].processHandshake()
	if rec.Proposal != mls.ProposalRemove || rec.Sender.Type != mls.SenderExternal {
		t.Fatalf("got %+v", rec)
	}
	if err := h.srv.Remove(roomA, "bob"); !errors.Is(err, ds.ErrNoMember) {
		t.Fatalf("second removal: %v", err)
	}
	// A lobby joiner removed by an admin loses its entry and connection.
	j := h.connect(roomA, "knocker", dsproto.RoleJoin)
	ref := j.knock(nil)
	expect[*dsproto.JoinRequest](ms[0].c)
	if err := h.srv.Remove(roomA, "knocker"); err != nil {
		t.Fatal(err)
	}
	if e := j.c.closed(); e == nil || e.Code != dsproto.CodeRemoved {
		t.Fatalf("knocker got %+v, want Error{removed}", e)
	}
	if gone := expect[*dsproto.LobbyGone](ms[0].c); !bytes.Equal(gone.Ref, ref) {
		t.Fatal("LobbyGone names another joiner")
	}
	if err := h.srv.Remove(roomB, "nobody"); !errors.Is(err, ds.ErrNoMember) {
		t.Fatalf("removal in an unknown room: %v", err)
	}
}

func TestObserveSeesEveryMessage(t *testing.T) {
	h := newHarness(t, ds.Config{})
	var mu sync.Mutex
	seen := map[string]int{}
	var all [][]byte
	h.srv.Observe(func(dir string, b []byte) {
		mu.Lock()
		seen[dir]++
		all = append(all, bytes.Clone(b))
		mu.Unlock()
	})
	ms := h.meeting(roomA, "alice", "bob")
	marker := []byte("TRIPWIRE-MARKER-7f3a")
	msg, err := ms[0].group.Seal(append([]byte("chat "), marker...), nil)
	if err != nil {
		t.Fatal(err)
	}
	ms[0].c.send(&dsproto.Application{Message: msg})
	ra := expect[*dsproto.RelayedApplication](ms[1].c)
	eventually(t, "observed", func() string {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range all {
			if bytes.Contains(b, ra.Message) && b[1] == byte(dsproto.TypeRelayedApplication) {
				return ""
			}
		}
		return "relayed message not observed"
	})
	mu.Lock()
	defer mu.Unlock()
	if seen["in"] < 6 || seen["out"] < 6 {
		t.Fatalf("observed %v", seen)
	}
	for _, b := range all {
		if bytes.Contains(b, marker) {
			t.Fatal("the plaintext marker passed through the DS")
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := ds.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ds.KeyFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	k2, err := ds.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.PublicKey(), k2.PublicKey()) {
		t.Fatal("reloaded key differs")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.LoadOrCreateKey(dir); err == nil {
		t.Fatal("a key readable by others was accepted")
	}
	if err := os.WriteFile(path, []byte("zz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.LoadOrCreateKey(dir); err == nil {
		t.Fatal("a corrupt key was accepted")
	}
}
