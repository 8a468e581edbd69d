package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Remover removes a participant from a meeting's membership. The E2EE
// delivery service (/e2ee) is to implement it with an MLS Remove proposal
// sent as the group's external sender (RFC 9420, Sections 12.1.3 and
// 12.1.8.1), so that every member sees who was removed and the next commit
// moves the group to an epoch whose keys the removed participant lacks.
type Remover interface {
	RemoveMember(ctx context.Context, room RoomKey, identity string) error
}

// WithRemover returns a Local whose RemoveParticipant first asks r to remove
// the participant from the meeting's membership, then disconnects it from
// the media room. A nil r leaves local as it is: removal is then only a
// disconnection from the media room, which the participant can undo by
// joining again while it holds the link.
func WithRemover(local Local, r Remover) Local {
	if r == nil {
		return local
	}
	return removerLocal{Local: local, r: r}
}

type removerLocal struct {
	Local
	r Remover
}

func (l removerLocal) RemoveParticipant(ctx context.Context, room RoomKey, identity string) error {
	if err := l.r.RemoveMember(ctx, room, identity); err != nil {
		return fmt.Errorf("cluster: remove member: %w", err)
	}
	return l.Local.RemoveParticipant(ctx, room, identity)
}

// NoMedia is the Local of a node without a media plane: no rooms.
type NoMedia struct{}

// Rooms implements Local.
func (NoMedia) Rooms() []Room { return nil }

// EndRoom implements Local.
func (NoMedia) EndRoom(context.Context, RoomKey) error { return ErrNoSuchRoom }

// RemoveParticipant implements Local.
func (NoMedia) RemoveParticipant(context.Context, RoomKey, string) error { return ErrNoSuchRoom }

// Meeting is a running meeting as the admin API shows it: where it runs, how
// many take part and since when. No names, no identities, no content.
type Meeting struct {
	Room         RoomKey   `json:"room"`
	Node         NodeID    `json:"node"`
	Participants int       `json:"participants"`
	StartedAt    time.Time `json:"started_at"`
}

// Controller carries out the admin powers over the whole cluster: it asks
// each room's node through the Router, and this node's rooms directly.
type Controller struct {
	router Router
	local  Local
}

// NewController returns a Controller for this node.
func NewController(r Router, local Local) *Controller {
	if local == nil {
		local = NoMedia{}
	}
	return &Controller{router: r, local: local}
}

// Handler is what this node serves to the others (Router.Serve).
func (c *Controller) Handler() Handler { return Dispatch(c.local) }

func (c *Controller) call(ctx context.Context, id NodeID, cmd Command) (Result, error) {
	if id == c.router.Self() {
		return Dispatch(c.local)(ctx, cmd), nil
	}
	return c.router.Call(ctx, id, cmd)
}

// Meetings lists the running meetings of every live node, sorted by node
// then start time. Nodes that did not answer are returned as well, with the
// meetings of the others.
func (c *Controller) Meetings(ctx context.Context) ([]Meeting, []NodeID, error) {
	nodes, err := c.router.Nodes(ctx)
	if err != nil {
		return nil, nil, err
	}
	var (
		out    []Meeting
		silent []NodeID
	)
	for _, n := range nodes {
		res, err := c.call(ctx, n.ID, Command{Op: OpRooms})
		if err == nil {
			err = res.error()
		}
		if err != nil {
			silent = append(silent, n.ID)
			continue
		}
		for _, r := range res.Rooms {
			out = append(out, Meeting{Room: r.Key, Node: n.ID, Participants: r.Participants, StartedAt: r.StartedAt})
		}
	}
	slices.SortFunc(out, func(a, b Meeting) int {
		if a.Node != b.Node {
			return cmpString(string(a.Node), string(b.Node))
		}
		return a.StartedAt.Compare(b.StartedAt)
	})
	return out, silent, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// roomCall sends cmd to the node running cmd.Room.
func (c *Controller) roomCall(ctx context.Context, cmd Command) (NodeID, error) {
	n, err := c.router.RoomNode(ctx, cmd.Room)
	if errors.Is(err, ErrNotPlaced) {
		return "", ErrNoSuchRoom
	}
	if err != nil {
		return "", err
	}
	res, err := c.call(ctx, n.ID, cmd)
	if err != nil {
		return n.ID, err
	}
	return n.ID, res.error()
}

// EndMeeting disconnects every participant of room, wherever it runs.
func (c *Controller) EndMeeting(ctx context.Context, room RoomKey) (NodeID, error) {
	return c.roomCall(ctx, Command{Op: OpEnd, Room: room})
}

// RemoveParticipant removes one participant from room, wherever it runs.
func (c *Controller) RemoveParticipant(ctx context.Context, room RoomKey, identity string) (NodeID, error) {
	return c.roomCall(ctx, Command{Op: OpRemove, Room: room, Identity: identity})
}

// Nodes lists the live nodes.
func (c *Controller) Nodes(ctx context.Context) ([]Node, error) { return c.router.Nodes(ctx) }

// Drain marks node id as draining (or not).
func (c *Controller) Drain(ctx context.Context, id NodeID, draining bool) error {
	return c.router.SetDraining(ctx, id, draining)
}
