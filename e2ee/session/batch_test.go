package session

import (
	"testing"
	"time"
)

// tickDue ticks, without moving the clock, every client whose deadline has
// come, then runs the network.
func (n *network) tickDue() {
	n.t.Helper()
	for _, c := range n.clients {
		if d := c.s.Deadline(); !c.conn.gone && !d.IsZero() && !n.now.Before(d) {
			n.deliver(c, c.s.Tick(n.now))
		}
	}
	n.run()
}

// A joiner of a quiet meeting is committed at once; joiners that follow an
// epoch change closely wait BatchDelay and share one commit.
func TestCommitBatchesOnlyAfterAnEpochChange(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b")
	n.advance(time.Second) // nothing happens for a while
	e := cs[0].s.Epoch()

	x := n.join("x", n.secret)
	n.run()
	n.tickDue()
	if !x.s.Member() {
		t.Fatalf("a joiner of a quiet meeting waits: a's next commit is %v away", cs[0].s.Deadline().Sub(n.now))
	}
	if got := cs[0].s.Epoch(); got != e+1 {
		t.Fatalf("epoch %d after one join, want %d", got, e+1)
	}

	// Two more arrive at the moment of that epoch change (a join storm).
	y := n.join("y", n.secret)
	z := n.join("z", n.secret)
	n.run()
	n.tickDue()
	if y.s.Member() || z.s.Member() {
		t.Fatal("joiners right after an epoch change were committed without waiting to batch")
	}
	n.advance(DefaultBatchDelay)
	all := append(cs, x, y, z)
	n.settle(10*time.Second, converged(all...))
	if got := cs[0].s.Epoch(); got != e+2 {
		t.Fatalf("epoch %d, want %d: y and z should share one commit", got, e+2)
	}
	noRejections(t, all...)
}

// A departure from a quiet meeting is committed at once too: the key
// rotation does not wait for a batch.
func TestQuietDepartureCommitsAtOnce(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("a", "b", "c")
	n.advance(time.Second)
	e := cs[0].s.Epoch()
	n.leave(cs[2])
	// The DS proposes the Remove once its leave grace has passed; the
	// clock then stands still.
	n.now = n.now.Add(fakeLeaveGrace)
	n.ds.tick(n.now, n.stillMember)
	n.run()
	n.tickDue()
	if got := cs[0].s.Epoch(); got != e+1 || len(cs[0].s.Roster()) != 2 {
		t.Fatalf("epoch %d with %d members right after c left, want %d with 2", got, len(cs[0].s.Roster()), e+1)
	}
}
