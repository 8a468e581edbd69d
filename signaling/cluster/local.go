package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// LocalRouter is the Router of a node without Redis: every room is placed
// here, unless the node is draining and the room is new.
type LocalRouter struct {
	node Node
	ttl  time.Duration
	now  func() time.Time

	mu       sync.Mutex
	placed   map[RoomKey]time.Time // room -> when its placement lapses
	draining bool
	load     Load
	handler  Handler
}

var _ Router = (*LocalRouter)(nil)

// NewLocal returns the single-node Router. url is the node's advertised base
// URL; a placement lapses ttl after the last join unless the room runs.
func NewLocal(id NodeID, url string, ttl time.Duration, now func() time.Time) *LocalRouter {
	if now == nil {
		now = time.Now
	}
	return &LocalRouter{
		node: Node{ID: id, URL: url, StartedAt: now()},
		ttl:  ttl, now: now, placed: make(map[RoomKey]time.Time),
	}
}

// Self implements Router.
func (l *LocalRouter) Self() NodeID { return l.node.ID }

// Heartbeat implements Router: it records load and keeps running rooms placed.
func (l *LocalRouter) Heartbeat(_ context.Context, load Load) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.load = load
	for _, r := range load.Rooms {
		l.placed[r.Key] = now.Add(l.ttl)
	}
	for k, until := range l.placed {
		if now.After(until) {
			delete(l.placed, k)
		}
	}
	return nil
}

func (l *LocalRouter) nodeLocked() Node {
	n := l.node
	n.Draining = l.draining
	n.Rooms = len(l.load.Rooms)
	for _, r := range l.load.Rooms {
		n.Participants += r.Participants
	}
	n.Placed = len(l.placed)
	n.Heartbeat = l.now()
	return n
}

// Nodes implements Router: just this one.
func (l *LocalRouter) Nodes(context.Context) ([]Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return []Node{l.nodeLocked()}, nil
}

// PlaceRoom implements Router.
func (l *LocalRouter) PlaceRoom(_ context.Context, room RoomKey) (Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if until, ok := l.placed[room]; ok && !now.After(until) {
		l.placed[room] = now.Add(l.ttl)
		return l.nodeLocked(), nil
	}
	if l.draining {
		return Node{}, ErrNoNode
	}
	l.placed[room] = now.Add(l.ttl)
	return l.nodeLocked(), nil
}

// RoomNode implements Router.
func (l *LocalRouter) RoomNode(_ context.Context, room RoomKey) (Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until, ok := l.placed[room]; ok && !l.now().After(until) {
		return l.nodeLocked(), nil
	}
	return Node{}, ErrNotPlaced
}

// SetDraining implements Router.
func (l *LocalRouter) SetDraining(_ context.Context, id NodeID, draining bool) error {
	if id != l.node.ID {
		return fmt.Errorf("%w: %s", ErrUnknownNode, id)
	}
	l.mu.Lock()
	l.draining = draining
	l.mu.Unlock()
	return nil
}

// Reap implements Router; one node has no peers to reap.
func (l *LocalRouter) Reap(context.Context) (int, error) { return 0, nil }

// Call implements Router for this node only.
func (l *LocalRouter) Call(ctx context.Context, id NodeID, cmd Command) (Result, error) {
	if id != l.node.ID {
		return Result{}, fmt.Errorf("%w: %s", ErrUnknownNode, id)
	}
	l.mu.Lock()
	h := l.handler
	l.mu.Unlock()
	if h == nil {
		return Result{}, ErrNodeUnavailable
	}
	return h(ctx, cmd), nil
}

// Serve implements Router: it makes h answer Call until ctx ends.
func (l *LocalRouter) Serve(ctx context.Context, h Handler) error {
	l.mu.Lock()
	l.handler = h
	l.mu.Unlock()
	<-ctx.Done()
	l.mu.Lock()
	l.handler = nil
	l.mu.Unlock()
	return nil
}

// Leave implements Router.
func (l *LocalRouter) Leave(context.Context) error { return nil }
