package session

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"conclave/e2ee/dsproto"
	"conclave/e2ee/mls"
	"conclave/e2ee/sframe"
)

func noRejections(t *testing.T, cs ...*client) {
	t.Helper()
	for _, c := range cs {
		if len(c.rejected) != 0 {
			t.Errorf("%s rejected: %v", c.name, c.rejected)
		}
	}
}

func TestMeetingConverges(t *testing.T) {
	for _, size := range []int{1, 2, 3, 10} {
		t.Run(fmt.Sprintf("%d members", size), func(t *testing.T) {
			n := newNetwork(t)
			var names []string
			for i := range size {
				names = append(names, fmt.Sprintf("m%d", i))
			}
			cs := n.meeting(names...)
			noRejections(t, cs...)
			roster := cs[0].s.Roster()
			for i, m := range roster {
				if m.Identity.Kind != KindBot || m.Identity.Participant == "" {
					t.Errorf("roster[%d] = %+v", i, m)
				}
			}
		})
	}
}

// Fifty joiners arriving within a few seconds converge on one epoch.
func TestFiftyJoinersConverge(t *testing.T) {
	n := newNetwork(t)
	var cs []*client
	for i := range 50 {
		cs = append(cs, n.join(fmt.Sprintf("b%02d", i), n.secret))
		n.run()
		n.advance(50 * time.Millisecond) // 50 joins over 2.5 s
	}
	n.settle(60*time.Second, converged(cs...))
	noRejections(t, cs...)
}

// Two members committing in the same epoch never fork the group: the DS
// takes the first, the second rebases.
func TestConcurrentCommitsDoNotFork(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b", "c")
	x := n.join("x", nil)
	y := n.join("y", nil)
	n.run()
	if len(cs[0].lobby) != 2 || len(cs[2].lobby) != 2 {
		t.Fatalf("lobby: %d, %d entries", len(cs[0].lobby), len(cs[2].lobby))
	}
	// a admits x and c admits y at the same instant: both commit at once.
	refX, refY := lobbyRef(t, cs[0], "x"), lobbyRef(t, cs[2], "y")
	var outs []Output
	for _, ad := range []struct {
		c   *client
		ref []byte
	}{{cs[0], refX}, {cs[2], refY}} {
		o, err := ad.c.s.Admit(ad.ref, n.now)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, o)
	}
	n.now = n.now.Add(DefaultBatchDelay)
	outs[0] = cs[0].s.Tick(n.now)
	outs[1] = cs[2].s.Tick(n.now)
	if len(outs[0].Send) == 0 || len(outs[1].Send) == 0 {
		t.Fatal("expected both members to commit")
	}
	n.deliver(cs[0], outs[0])
	n.deliver(cs[2], outs[1])
	all := append(slices.Clone(cs), x, y)
	n.settle(20*time.Second, converged(all...))
	noRejections(t, all...)
}

func lobbyRef(t *testing.T, c *client, name string) []byte {
	t.Helper()
	for _, e := range c.s.Lobby() {
		if e.Identity.DisplayName == name {
			return e.Ref
		}
	}
	t.Fatalf("%s does not see %s in the lobby", c.name, name)
	return nil
}

// A joiner without the secret, or with a wrong one, waits in the lobby that
// every member sees, receives nothing, and gets in only when admitted.
func TestLobby(t *testing.T) {
	for _, tc := range []struct {
		name     string
		secret   []byte
		badProof bool
	}{
		{"no secret", nil, false},
		{"wrong secret", NewLinkSecret(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork(t)
			cs := n.meeting("a", "b")
			j := n.join("joiner", tc.secret)
			n.advance(10 * time.Second)
			for _, c := range cs {
				if len(c.lobby) != 1 || c.lobby[0].Identity.DisplayName != "joiner" || c.lobby[0].BadProof != tc.badProof {
					t.Fatalf("%s lobby = %+v", c.name, c.lobby)
				}
				if len(c.s.Roster()) != 2 {
					t.Fatalf("%s roster has %d members before admission", c.name, len(c.s.Roster()))
				}
			}
			if tc.secret == nil && !j.status.Waiting {
				t.Errorf("knocking joiner status = %+v", j.status)
			}
			// Chat and media of the meeting reach the joiner as nothing.
			if _, err := cs[0].s.SendChat("before admission"); err != nil {
				t.Fatal(err)
			}
			n.deliver(cs[0], Output{})
			n.run()
			if j.s.Member() || len(j.chats) != 0 || j.s.Epoch() != 0 || j.s.Sender() != nil {
				t.Fatalf("joiner got in or got content before admission: member=%v chats=%d", j.s.Member(), len(j.chats))
			}
			frame := encryptFrame(t, cs[0])
			if _, err := j.s.Receiver().Decrypt(nil, nil, frame); !errors.Is(err, sframe.ErrUnknownKey) {
				t.Fatalf("joiner decrypting a frame before admission: %v", err)
			}
			o, err := cs[1].s.Admit(lobbyRef(t, cs[1], "joiner"), n.now)
			if err != nil {
				t.Fatal(err)
			}
			n.deliver(cs[1], o)
			all := append(cs, j)
			n.settle(10*time.Second, converged(all...))
			if _, err := j.s.Receiver().Decrypt(nil, nil, encryptFrame(t, cs[0])); err != nil {
				t.Fatalf("admitted joiner cannot decrypt: %v", err)
			}
			noRejections(t, cs...)
			if tc.secret == nil {
				noRejections(t, j)
				if j.s.Sender() == nil {
					t.Fatal("admitted knocker has no media sender")
				}
				return
			}
			// With a wrong secret the joiner cannot tell the real group
			// from a forged one: it receives but never sends, and says why.
			n.advance(2 * time.Second)
			if j.s.Sender() != nil || len(j.rejected) == 0 || !errors.Is(j.rejected[0].Err, ErrAdmission) {
				t.Fatalf("wrong-secret joiner: sender %v, rejected %v", j.s.Sender() != nil, j.rejected)
			}
			if _, err := j.s.SendChat("x"); !errors.Is(err, ErrState) {
				t.Fatalf("wrong-secret joiner chat: %v", err)
			}
		})
	}
}

func TestRefuse(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b")
	j := n.join("joiner", nil)
	n.run()
	o, err := cs[0].s.Refuse(lobbyRef(t, cs[0], "joiner"))
	if err != nil {
		t.Fatal(err)
	}
	n.deliver(cs[0], o)
	n.advance(5 * time.Second)
	if !j.status.Refused || j.s.Member() {
		t.Fatalf("refused joiner: status %+v member %v", j.status, j.s.Member())
	}
	for _, c := range cs {
		if len(c.lobby) != 0 || len(c.s.Roster()) != 2 {
			t.Errorf("%s: lobby %d, roster %d", c.name, len(c.lobby), len(c.s.Roster()))
		}
	}
	if _, err := cs[0].s.Refuse([]byte("nobody")); !errors.Is(err, ErrUnknownJoiner) {
		t.Errorf("Refuse(unknown) = %v", err)
	}
	if _, err := cs[0].s.Admit([]byte("nobody"), n.now); !errors.Is(err, ErrUnknownJoiner) {
		t.Errorf("Admit(unknown) = %v", err)
	}
}

func encryptFrame(t *testing.T, c *client) []byte {
	t.Helper()
	snd := c.s.Sender()
	if snd == nil {
		t.Fatalf("%s has no sender", c.name)
	}
	wire, err := snd.Encrypt(nil, nil, []byte("frame from "+c.name))
	if err != nil {
		t.Fatal(err)
	}
	return wire
}

// Members of an epoch share its security code; the code changes with the
// epoch and with any tampering with the state.
func TestSecurityCode(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b", "c")
	code := cs[0].s.SecurityCode()
	if len(code) != 24 || code[4] != ' ' {
		t.Fatalf("code %q is not 5 groups of 4 digits", code)
	}
	for _, c := range cs {
		if c.s.SecurityCode() != code {
			t.Errorf("%s code %q, a has %q", c.name, c.s.SecurityCode(), code)
		}
	}
	// Tamper with b's saved state: flip one bit of its epoch authenticator.
	st, err := cs[1].s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	auth := cs[1].s.group.EpochAuthenticator()
	i := bytes.Index(st, auth)
	if i < 0 {
		t.Fatal("epoch authenticator not found in the saved state")
	}
	st[i] ^= 1
	tampered, err := Restore(cs[1].s.cfg, st, n.now)
	if err != nil {
		t.Fatal(err)
	}
	if tampered.SecurityCode() == code {
		t.Error("tampered state shows the same security code")
	}
	// The next epoch has another code, the same for all.
	n.join("d", n.secret)
	n.settle(10*time.Second, converged(append(cs, n.clients[3])...))
	if next := cs[0].s.SecurityCode(); next == code || cs[2].s.SecurityCode() != next {
		t.Errorf("codes after an epoch change: %q, %q (before %q)", next, cs[2].s.SecurityCode(), code)
	}
}

// A member that left is removed by the DS's proposal; it cannot decrypt any
// frame or chat message sent after its removal, even listening with its old
// state and fed everything.
func TestDepartedMemberLocksOut(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b", "c")
	gone := cs[2]
	oldState, err := gone.s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	oldEpoch := gone.s.Epoch()
	n.leave(gone)
	n.settle(20*time.Second, converged(cs[0], cs[1]))
	if cs[0].s.Epoch() <= oldEpoch {
		t.Fatalf("epoch did not advance after removal: %d", cs[0].s.Epoch())
	}
	// Send a frame and a chat in the new epoch.
	frame := encryptFrame(t, cs[0])
	if o, err := cs[0].s.SendChat("after removal"); err != nil {
		t.Fatal(err)
	} else {
		n.deliver(cs[0], o)
	}
	n.run()
	if len(cs[1].chats) != 1 || cs[1].chats[0].Text != "after removal" {
		t.Fatalf("remaining member chats: %+v", cs[1].chats)
	}
	// The departed member's own receiver and a copy of its old state.
	if _, err := gone.s.Receiver().Decrypt(nil, nil, frame); err == nil {
		t.Fatal("departed member decrypted a frame of the new epoch")
	}
	ghost, err := Restore(gone.s.cfg, oldState, n.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ghost.Receiver().Decrypt(nil, nil, frame); err == nil {
		t.Fatal("restored old state decrypted a frame of the new epoch")
	}
	var got []ChatReceived
	for _, m := range n.ds.seen {
		if len(m) < 2 || m[1] != byte(dsproto.TypeRelayedApplication) && m[1] != byte(dsproto.TypeHandshake) {
			continue
		}
		o, _ := ghost.Handle(m, n.now) // everything the DS ever relayed
		for _, e := range o.Events {
			if c, ok := e.(ChatReceived); ok {
				got = append(got, c)
			}
		}
	}
	if len(got) != 0 {
		t.Fatalf("old state read chat: %+v", got)
	}
	if ghost.Member() && ghost.Epoch() > oldEpoch {
		t.Fatalf("old state followed into epoch %d", ghost.Epoch())
	}
}

// The server tries to add a member in every way it can; every client refuses
// and the meeting goes on.
func TestServerCannotAddMember(t *testing.T) {
	cases := []struct {
		name   string
		attack func(t *testing.T, n *network, cs []*client)
		want   error
	}{
		{"external Add proposal", func(t *testing.T, n *network, cs []*client) {
			rogue := rogueKeyPackage(t)
			n.ds.broadcast(externalAdd(t, n.ds.groupID, n.ds.epoch, 0, n.ds.key, rogue.KeyPackage()))
		}, mls.ErrRejectedByPolicy},
		{"commit signed by the server", func(t *testing.T, n *network, cs []*client) {
			g, _ := rogueGroup(t, n.ds, n.ds.groupID, n.ds.epoch)
			res, err := g.Commit(mls.CommitOptions{Add: []*mls.KeyPackage{rogueKeyPackage(t).KeyPackage()}})
			if err != nil {
				t.Fatal(err)
			}
			n.ds.broadcast(res.Commit)
		}, mls.ErrAuthentication},
		{"external commit", func(t *testing.T, n *network, cs []*client) {
			// Even given a GroupInfo (clients never upload one), an
			// external join is refused.
			gi, err := cs[0].s.group.GroupInfo(mls.GroupInfoOptions{RatchetTree: true, ExternalPub: true})
			if err != nil {
				t.Fatal(err)
			}
			_, commit, err := mls.JoinExternal(gi, rogueKeyPackage(t), mls.ExternalJoinOptions{}, mls.Config{PublicHandshake: true})
			if err != nil {
				t.Fatal(err)
			}
			n.ds.broadcast(commit)
		}, ErrExternalCommit},
		{"member commit adding an unadmitted KeyPackage", func(t *testing.T, n *network, cs []*client) {
			// A member's commit the DS would relay, adding a listener
			// nobody saw: what a compromised member (or a DS that fed one
			// member a fake JoinRequest) could do.
			res, err := cs[0].s.group.Commit(mls.CommitOptions{Add: []*mls.KeyPackage{rogueKeyPackage(t).KeyPackage()}})
			if err != nil {
				t.Fatal(err)
			}
			n.ds.broadcast(res.Commit)
		}, ErrUnadmitted},
		{"forged Welcome to a joiner", func(t *testing.T, n *network, cs []*client) {
			// The server keeps the JoinRequest from the members and
			// answers the joiner itself.
			n.ds.holdJoinRequests = true
			j := n.join("victim", n.secret)
			n.run()
			kp, err := mls.ParseKeyPackage(n.ds.pending[keyOf(n.ds.pending)].kp)
			if err != nil {
				t.Fatal(err)
			}
			delete(n.ds.pending, keyOf(n.ds.pending))
			g, _ := rogueGroup(t, n.ds, n.ds.groupID, 0)
			res, err := g.Commit(mls.CommitOptions{Add: []*mls.KeyPackage{kp}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.MergePendingCommit(); err != nil {
				t.Fatal(err)
			}
			n.ds.to(j.conn, inWelcome{welcome: res.Welcome})
			n.run()
			// The joiner is in the fake group but sends nothing until a
			// member attests it, which the server cannot forge.
			fake := []byte(`{"type":"attest","leaf":1,"mac":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`)
			sealed, err := g.Seal(fake, nil)
			if err != nil {
				t.Fatal(err)
			}
			n.ds.to(j.conn, inApplication{message: sealed, participant: "P_ROGUE"})
			n.advance(5 * time.Second)
			if j.s.Sender() != nil || len(j.rejected) == 0 || !errors.Is(j.rejected[0].Err, ErrAdmission) {
				t.Fatalf("joiner trusted a forged Welcome: sender=%v rejected=%v", j.s.Sender() != nil, j.rejected)
			}
			if _, err := j.s.SendChat("secret"); !errors.Is(err, ErrState) {
				t.Fatalf("joiner in a forged group could chat: %v", err)
			}
			j.conn.joined = false
			n.leave(j)
			n.clients = n.clients[:len(n.clients)-1]
			// And a Welcome sent to a member is ignored too.
			n.ds.to(cs[1].conn, inWelcome{welcome: res.Welcome})
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork(t)
			cs := n.meeting("a", "b", "c")
			epoch, code := cs[0].s.Epoch(), cs[0].s.SecurityCode()
			tc.attack(t, n, cs)
			n.advance(5 * time.Second)
			refused := 0
			honest := cs
			insider := tc.name == "member commit adding an unadmitted KeyPackage"
			if insider {
				honest = cs[1:] // a is the compromised member
			}
			for _, c := range honest {
				for _, r := range c.rejected {
					if tc.want != nil && !errors.Is(r.Err, tc.want) {
						t.Errorf("%s rejected %q with %v, want %v", c.name, r.What, r.Err, tc.want)
					}
				}
				if len(c.rejected) > 0 {
					refused++
				}
				if len(c.s.Roster()) != 3 || c.s.Epoch() != epoch || c.s.SecurityCode() != code {
					t.Errorf("%s: roster %d, epoch %d (was %d)", c.name, len(c.s.Roster()), c.s.Epoch(), epoch)
				}
			}
			if tc.name != "forged Welcome to a joiner" && refused != len(honest) {
				t.Errorf("%d of %d clients refused", refused, len(honest))
			}
			// The meeting goes on: chat flows.
			o, err := cs[1].s.SendChat("still here")
			if err != nil {
				t.Fatal(err)
			}
			n.deliver(cs[1], o)
			n.run()
			if (!insider && len(cs[0].chats) != 1) || len(cs[2].chats) != 1 {
				t.Fatalf("chat after the attack: %d, %d", len(cs[0].chats), len(cs[2].chats))
			}
		})
	}
}

func keyOf(m map[string]*dsJoiner) string {
	for k := range m {
		return k
	}
	return ""
}

// Chat goes to current members only; late joiners never see earlier messages.
func TestChat(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b")
	o, err := cs[0].s.SendChat("hello, b")
	if err != nil {
		t.Fatal(err)
	}
	n.deliver(cs[0], o)
	n.run()
	if len(cs[1].chats) != 1 || cs[1].chats[0].Text != "hello, b" || cs[1].chats[0].From.Identity.DisplayName != "a" {
		t.Fatalf("b chats = %+v", cs[1].chats)
	}
	late := n.join("late", n.secret)
	n.settle(10*time.Second, converged(cs[0], cs[1], late))
	if len(late.chats) != 0 {
		t.Fatalf("late joiner got earlier chat: %+v", late.chats)
	}
	if _, err := cs[0].s.SendChat(string([]byte{0xff})); !errors.Is(err, ErrChat) {
		t.Errorf("invalid UTF-8 chat: %v", err)
	}
	knocker, _ := New(Config{Identity: Identity{Participant: "P_k", Kind: KindBot}, RoomID: testRoomID})
	if _, err := knocker.SendChat("x"); !errors.Is(err, ErrState) {
		t.Errorf("chat before joining: %v", err)
	}
}

// A chat message sealed just before commits that the DS orders first still
// arrives as chat, from its epoch and its sender then, marked late; a
// member who joined after it was sealed cannot read it and is not alarmed.
func TestChatBeforeCommit(t *testing.T) {
	for _, commits := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d commits first", commits), func(t *testing.T) {
			n := newNetwork(t)
			cs := n.meeting("a", "b", "c")
			c := cs[2]
			sealedIn := c.s.Epoch()
			held, err := c.s.SendChat("sent before the commit")
			if err != nil {
				t.Fatal(err)
			}
			members := cs
			for i := range commits {
				members = append(members, n.join(fmt.Sprint("j", i), n.secret))
				n.settle(10*time.Second, converged(members...))
			}
			if c.s.Epoch() != sealedIn+uint64(commits) {
				t.Fatalf("epoch %d, want %d", c.s.Epoch(), sealedIn+uint64(commits))
			}
			n.deliver(c, held) // the DS relays it only now, after the commits
			n.run()
			for _, r := range cs[:2] {
				if len(r.chats) != 1 {
					t.Fatalf("%s chats = %+v", r.name, r.chats)
				}
				got := r.chats[0]
				if got.Text != "sent before the commit" || got.Epoch != sealedIn || !got.Late ||
					got.From.Identity.DisplayName != "c" || got.From.Leaf != c.s.group.OwnLeaf() || got.From.Self {
					t.Fatalf("%s got %+v, want c's late chat of epoch %d", r.name, got, sealedIn)
				}
			}
			for _, j := range members[3:] {
				if len(j.chats) != 0 {
					t.Fatalf("%s joined after the chat was sealed and read it: %+v", j.name, j.chats)
				}
			}
			noRejections(t, members...)
			// Chat of the current epoch is not late.
			o, err := cs[0].s.SendChat("now")
			if err != nil {
				t.Fatal(err)
			}
			n.deliver(cs[0], o)
			n.run()
			if last := c.chats[len(c.chats)-1]; last.Text != "now" || last.Late || last.Epoch != c.s.Epoch() {
				t.Fatalf("current chat %+v", last)
			}
		})
	}
}

// The committer is the lowest leaf; when it is gone, the next takes over
// after its timeout.
func TestCommitterTakeover(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b", "c")
	// a stops answering but keeps its connection: nobody proposes its
	// removal, so the next member must take over committing a joiner.
	a := cs[0]
	n.clients = slices.DeleteFunc(n.clients, func(c *client) bool { return c == a })
	j := n.join("j", n.secret)
	start := n.now
	n.settle(10*time.Second, func() error {
		if !j.s.Member() {
			return fmt.Errorf("joiner not in")
		}
		return nil
	})
	if took := n.now.Sub(start); took < DefaultCommitTimeout {
		t.Errorf("joiner admitted after %v, before the takeover timeout", took)
	}
	n.settle(5*time.Second, func() error {
		if j.s.Sender() == nil {
			return fmt.Errorf("joiner not attested")
		}
		return nil
	})
	if j.s.Epoch() != cs[1].s.Epoch() || cs[1].s.Epoch() != cs[2].s.Epoch() {
		t.Errorf("epochs: j %d, b %d, c %d", j.s.Epoch(), cs[1].s.Epoch(), cs[2].s.Epoch())
	}
}

// A joiner whose attestation request is lost asks again on its own: a quiet
// group has no next epoch to ask in, and the joiner would stay mute.
func TestAttestationRetried(t *testing.T) {
	n := newNetwork(t)
	n.meeting("a", "b")
	n.ds.dropApplications = 1 // the joiner's first attest-request
	j := n.join("j", n.secret)
	n.settle(10*time.Second, func() error {
		if j.s.Sender() == nil {
			return fmt.Errorf("joiner not attested")
		}
		return nil
	})
	if n.ds.dropApplications != 0 {
		t.Fatal("no application message was dropped: the test did not exercise a lost request")
	}
}

// State survives a restart: a member restored from saved state resumes and
// follows the next epoch.
func TestSaveRestoreResume(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b")
	st, err := cs[1].s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Restore(cs[1].s.cfg, st, n.now)
	if err != nil {
		t.Fatal(err)
	}
	if s2.SecurityCode() != cs[0].s.SecurityCode() {
		t.Fatal("restored session shows another code")
	}
	n.leave(cs[1])
	b2 := n.attach("b2", s2)
	n.run()
	c := n.join("c", n.secret)
	n.settle(10*time.Second, converged(cs[0], b2, c))
	noRejections(t, cs[0], b2, c)
	if _, err := Restore(cs[1].s.cfg, st[:len(st)-1], n.now); !errors.Is(err, ErrStateFormat) {
		t.Errorf("truncated state: %v", err)
	}
}

// A knocker asked to create the group declines by knocking; the next joiner
// with the secret creates it and finds the knocker in the lobby.
func TestKnockerDoesNotCreate(t *testing.T) {
	n := newNetwork(t)
	k := n.join("k", nil)
	n.run()
	if k.s.Member() || k.s.phase != phaseJoining {
		t.Fatalf("knocker: member=%v phase=%d", k.s.Member(), k.s.phase)
	}
	a := n.join("a", n.secret)
	n.run()
	if !a.s.Member() || len(a.lobby) != 1 || a.lobby[0].Identity.DisplayName != "k" {
		t.Fatalf("creator: member=%v lobby=%+v", a.s.Member(), a.lobby)
	}
	noRejections(t, k, a)
}

// After the grace period, the previous epoch's media keys are gone.
func TestEpochGrace(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b")
	old := encryptFrame(t, cs[0])
	old2 := encryptFrame(t, cs[0])
	n.join("c", n.secret)
	n.settle(10*time.Second, converged(cs[0], cs[1], n.clients[2]))
	if _, err := cs[1].s.Receiver().Decrypt(nil, nil, old); err != nil {
		t.Fatalf("previous epoch's frame within the grace period: %v", err)
	}
	n.advance(DefaultEpochGrace + time.Second)
	if _, err := cs[1].s.Receiver().Decrypt(nil, nil, old2); !errors.Is(err, sframe.ErrUnknownKey) {
		t.Fatalf("previous epoch's frame after the grace period: %v", err)
	}
}

// A commit made before the DS's Remove proposal arrived does not include it;
// the members carry the removal into the next commit.
func TestRemoveMissedByCommitIsCarried(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b", "c")
	gone := cs[2]
	committer := cs[0]
	if committer.s.rank() != 0 {
		committer = cs[1]
	}
	if gone == committer {
		gone = cs[1]
	}
	// A joiner is queued; the committer's commit is made but not yet sent.
	j := n.join("j", n.secret)
	n.run()
	n.now = n.now.Add(DefaultBatchDelay)
	commitOut := committer.s.Tick(n.now)
	if len(commitOut.Send) != 1 {
		t.Fatalf("committer sent %d messages", len(commitOut.Send))
	}
	// Meanwhile the DS proposes removing a departed member.
	n.ds.disconnect(gone.conn, n.now)
	n.ds.broadcast(mustExternalRemove(t, n.ds, gone.s.group.OwnLeaf()))
	n.run()
	n.deliver(committer, commitOut)
	var rest []*client
	for _, c := range cs {
		if c != gone {
			rest = append(rest, c)
		}
	}
	n.settle(10*time.Second, converged(append(rest, j)...))
	noRejections(t, append(rest, j)...)
}

func mustExternalRemove(t *testing.T, d *fakeDS, leaf uint32) []byte {
	t.Helper()
	p, err := mls.ExternalRemove(d.groupID, d.epoch, 0, d.key, leaf)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.conns {
		if c.leaf == leaf {
			c.removed = true
		}
	}
	return p
}
