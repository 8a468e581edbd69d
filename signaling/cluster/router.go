package cluster

import (
	"context"
	"errors"
	"time"
)

// NodeID names a node. It is random per start unless the config fixes it.
type NodeID string

// RoomKey names a room after admission (see signaling.RoomKey): hex of the
// first 16 bytes of the room ID's hash. Never a room ID.
type RoomKey string

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrNoNode: no live node that is not draining can take a new room.
	ErrNoNode = errors.New("cluster: no node can take new meetings")
	// ErrUnknownNode: no live node has that ID.
	ErrUnknownNode = errors.New("cluster: no such node")
	// ErrNodeUnavailable: the node did not answer a command in time.
	ErrNodeUnavailable = errors.New("cluster: node did not answer")
	// ErrNotPlaced: the room is not placed on any node.
	ErrNotPlaced = errors.New("cluster: room is not placed")
	// ErrNoSuchRoom: the node has no such room running.
	ErrNoSuchRoom = errors.New("cluster: no such room on this node")
	// ErrNoSuchParticipant: the room has no participant with that identity.
	ErrNoSuchParticipant = errors.New("cluster: no such participant")
)

// Room is what the media plane tells about one of its rooms: no names, no
// identities, no content.
type Room struct {
	Key          RoomKey   `json:"room"`
	Participants int       `json:"participants"`
	StartedAt    time.Time `json:"started_at"`
}

// Load is what a node reports about itself on every heartbeat.
type Load struct {
	Rooms []Room
}

// Node is a live node as the registry knows it.
type Node struct {
	ID  NodeID `json:"id"`
	URL string `json:"url"` // advertised base URL (http[s]://host:port) of its API and /rtc
	// Rooms and Participants are the counts of its last heartbeat; Placed is
	// how many rooms are placed on it now (including ones whose participants
	// have not connected yet).
	Rooms        int       `json:"rooms"`
	Participants int       `json:"participants"`
	Placed       int       `json:"placed"`
	Draining     bool      `json:"draining"`
	StartedAt    time.Time `json:"started_at"`
	Heartbeat    time.Time `json:"heartbeat"`
}

// load is the score placement minimises: rooms placed (which counts a room
// from the moment it is placed, before anyone connects) plus participants.
func (n Node) load() int { return n.Placed + n.Participants }

// Local is a node's own rooms, implemented by the media plane (signaling/rtc).
type Local interface {
	Rooms() []Room
	// EndRoom disconnects every participant of room, telling them why.
	EndRoom(ctx context.Context, room RoomKey) error
	// RemoveParticipant removes one participant from room.
	RemoveParticipant(ctx context.Context, room RoomKey, identity string) error
}

// Router places rooms on nodes and carries commands to them. Local and
// Redis implement it.
type Router interface {
	// Self is this node's ID.
	Self() NodeID
	// Heartbeat publishes this node's load, renews its liveness and keeps
	// the placements of its running rooms.
	Heartbeat(ctx context.Context, load Load) error
	// Nodes lists the live nodes, sorted by ID.
	Nodes(ctx context.Context) ([]Node, error)
	// PlaceRoom returns the node hosting room, first placing it on the
	// least-loaded live node that is not draining if it has none or its
	// node died. It returns ErrNoNode when no node can take it.
	PlaceRoom(ctx context.Context, room RoomKey) (Node, error)
	// RoomNode returns the node room is placed on, or ErrNotPlaced.
	RoomNode(ctx context.Context, room RoomKey) (Node, error)
	// SetDraining marks a live node as draining (or not).
	SetDraining(ctx context.Context, id NodeID, draining bool) error
	// Reap forgets nodes that missed their heartbeats and places their
	// rooms again; it returns how many rooms it moved.
	Reap(ctx context.Context) (int, error)
	// Call runs cmd on node id and returns its result.
	Call(ctx context.Context, id NodeID, cmd Command) (Result, error)
	// Serve runs commands sent to this node through h until ctx ends.
	Serve(ctx context.Context, h Handler) error
	// Leave unregisters this node on a clean shutdown; its rooms are placed
	// again at their next join.
	Leave(ctx context.Context) error
}

// Op is a command's operation.
type Op string

// The commands a node runs for the admin API.
const (
	OpRooms  Op = "rooms"
	OpEnd    Op = "end"
	OpRemove Op = "remove"
)

// Command is an admin command for one node.
type Command struct {
	Op       Op      `json:"op"`
	Room     RoomKey `json:"room,omitempty"`
	Identity string  `json:"identity,omitempty"`
}

// Result is a command's outcome. Err is one of the codes below, so that the
// caller gets the same sentinel the node saw.
type Result struct {
	Rooms []Room `json:"rooms,omitempty"`
	Err   string `json:"err,omitempty"`
}

// Handler runs a command on this node.
type Handler func(ctx context.Context, cmd Command) Result

var errCodes = map[string]error{
	"no_such_room":        ErrNoSuchRoom,
	"no_such_participant": ErrNoSuchParticipant,
}

// error turns a Result's code back into an error.
func (r Result) error() error {
	if r.Err == "" {
		return nil
	}
	if e, ok := errCodes[r.Err]; ok {
		return e
	}
	return errors.New("cluster: node: " + r.Err)
}

// errResult encodes err for the wire; unknown errors become a fixed text so
// that nothing internal leaks to the caller's logs.
func errResult(err error) Result {
	for code, e := range errCodes {
		if errors.Is(err, e) {
			return Result{Err: code}
		}
	}
	return Result{Err: "failed"}
}

// Dispatch runs cmd against a node's own rooms: the Handler every node
// serves.
func Dispatch(local Local) Handler {
	return func(ctx context.Context, cmd Command) Result {
		switch cmd.Op {
		case OpRooms:
			return Result{Rooms: local.Rooms()}
		case OpEnd:
			if err := local.EndRoom(ctx, cmd.Room); err != nil {
				return errResult(err)
			}
			return Result{}
		case OpRemove:
			if err := local.RemoveParticipant(ctx, cmd.Room, cmd.Identity); err != nil {
				return errResult(err)
			}
			return Result{}
		default:
			return Result{Err: "unknown op"}
		}
	}
}
