package session

import (
	"fmt"
	"testing"
	"time"
)

var testRoomID = "r0omIDr0omIDr0omIDr0om"

// client is one session on the fake network.
type client struct {
	name   string
	s      *Session
	conn   *dsConn
	events []Event
	// rejected collects Rejected events.
	rejected []Rejected
	chats    []ChatReceived
	lobby    []LobbyEntry
	status   LobbyStatus
	removed  bool
}

type network struct {
	t       testing.TB
	ds      *fakeDS
	now     time.Time
	secret  []byte
	clients []*client
}

func newNetwork(t testing.TB) *network {
	return &network{t: t, ds: newFakeDS(t), now: time.Unix(1_700_000_000, 0), secret: NewLinkSecret()}
}

// join connects a new client; secret nil knocks.
func (n *network) join(name string, secret []byte) *client {
	n.t.Helper()
	s, err := New(Config{
		Identity:   Identity{Participant: "P_" + name, DisplayName: name, Kind: KindBot},
		RoomID:     testRoomID,
		LinkSecret: secret,
	})
	if err != nil {
		n.t.Fatal(err)
	}
	return n.attach(name, s)
}

func (n *network) attach(name string, s *Session) *client {
	c := &client{name: name, s: s, conn: n.ds.connect("P_" + name)}
	n.clients = append(n.clients, c)
	n.deliver(c, s.Start(n.now))
	return c
}

func (n *network) deliver(c *client, o Output) {
	for _, b := range o.Send {
		if !c.conn.gone {
			n.ds.receive(c.conn, b, n.now)
		}
	}
	for _, e := range o.Events {
		c.events = append(c.events, e)
		switch e := e.(type) {
		case Rejected:
			c.rejected = append(c.rejected, e)
		case ChatReceived:
			c.chats = append(c.chats, e)
		case LobbyChanged:
			c.lobby = e.Waiting
		case LobbyStatus:
			c.status = e
		case Removed:
			c.removed = true
		}
	}
}

// run delivers queued messages until every inbox is empty.
func (n *network) run() {
	n.t.Helper()
	for range 100000 {
		moved := false
		for _, c := range n.clients {
			if len(c.conn.inbox) == 0 {
				continue
			}
			msg := c.conn.inbox[0]
			c.conn.inbox = c.conn.inbox[1:]
			o, err := c.s.Handle(msg, n.now)
			if err != nil {
				n.t.Fatalf("%s: Handle: %v", c.name, err)
			}
			n.deliver(c, o)
			moved = true
		}
		if !moved {
			return
		}
	}
	n.t.Fatal("network did not settle")
}

// advance moves the clock in small steps, ticking everyone.
func (n *network) advance(d time.Duration) {
	n.t.Helper()
	step := 50 * time.Millisecond
	for end := n.now.Add(d); n.now.Before(end); {
		n.now = n.now.Add(step)
		for _, c := range n.clients {
			if !c.conn.gone {
				n.deliver(c, c.s.Tick(n.now))
			}
		}
		n.ds.tick(n.now, n.stillMember)
		n.run()
	}
}

func (n *network) stillMember(leaf uint32) bool {
	for _, c := range n.live() {
		for _, m := range c.s.Roster() {
			if m.Leaf == leaf {
				return true
			}
		}
	}
	return false
}

func (n *network) live() []*client {
	var l []*client
	for _, c := range n.clients {
		if !c.conn.gone && c.s.Member() {
			l = append(l, c)
		}
	}
	return l
}

// settle runs the clock until cond holds or the simulated deadline passes.
func (n *network) settle(d time.Duration, cond func() error) {
	n.t.Helper()
	n.run()
	var err error
	for end := n.now.Add(d); ; {
		if err = cond(); err == nil {
			return
		}
		if !n.now.Before(end) {
			break
		}
		n.advance(100 * time.Millisecond)
	}
	n.t.Fatalf("not settled after %v: %v", d, err)
}

// converged: every given client is a member of the same epoch with the same
// code and a roster of exactly them.
func converged(cs ...*client) func() error {
	return func() error {
		if len(cs) == 0 {
			return nil
		}
		e, code := cs[0].s.Epoch(), cs[0].s.SecurityCode()
		for _, c := range cs {
			if !c.s.Member() {
				return fmt.Errorf("%s not a member", c.name)
			}
			if c.s.Epoch() != e || c.s.SecurityCode() != code {
				return fmt.Errorf("%s at epoch %d, %s at %d", cs[0].name, e, c.name, c.s.Epoch())
			}
			if len(c.s.Roster()) != len(cs) {
				return fmt.Errorf("%s sees %d members, want %d", c.name, len(c.s.Roster()), len(cs))
			}
		}
		return nil
	}
}

// meeting starts n clients with the secret and waits for them to converge.
func (n *network) meeting(names ...string) []*client {
	n.t.Helper()
	var cs []*client
	for _, name := range names {
		cs = append(cs, n.join(name, n.secret))
		n.run()
	}
	n.settle(30*time.Second, converged(cs...))
	return cs
}

func (n *network) leave(c *client) { n.ds.disconnect(c.conn, n.now) }
