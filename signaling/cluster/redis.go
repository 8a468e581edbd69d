package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a RedisRouter.
type RedisOptions struct {
	Client *redis.Client // required; the caller owns and closes it
	Self   NodeID        // required
	URL    string        // this node's advertised base URL; required
	// Prefix starts every key (default "conclave:"), so that several
	// clusters can share one Redis.
	Prefix string
	// DeadAfter is how long a node's record outlives its last heartbeat
	// (default 3s). Heartbeat at least three times per DeadAfter.
	DeadAfter time.Duration
	// RoomTTL is how long a placement outlives the last join or heartbeat
	// of its running room (default 2m): long enough for a participant to
	// connect after /api/join answered.
	RoomTTL time.Duration
	// CallTimeout bounds a command's round trip (default 5s).
	CallTimeout time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
}

// RedisRouter is the Router of a node in a cluster sharing one Redis.
type RedisRouter struct {
	rdb       *redis.Client
	self      NodeID
	url       string
	p         string
	deadAfter time.Duration
	roomTTL   time.Duration
	callTTL   time.Duration
	log       *slog.Logger
	now       func() time.Time
	started   time.Time

	mu   sync.Mutex
	left bool
}

var _ Router = (*RedisRouter)(nil)

// NewRedis returns a RedisRouter. It does not talk to Redis until the first
// Heartbeat.
func NewRedis(o RedisOptions) (*RedisRouter, error) {
	if o.Client == nil || o.Self == "" || o.URL == "" {
		return nil, errors.New("cluster: redis router needs a client, a node ID and a URL")
	}
	r := &RedisRouter{
		rdb: o.Client, self: o.Self, url: o.URL, p: o.Prefix,
		deadAfter: o.DeadAfter, roomTTL: o.RoomTTL, callTTL: o.CallTimeout, log: o.Logger, now: o.Now,
	}
	if r.p == "" {
		r.p = "conclave:"
	}
	if r.deadAfter <= 0 {
		r.deadAfter = 3 * time.Second
	}
	if r.roomTTL <= 0 {
		r.roomTTL = 2 * time.Minute
	}
	if r.callTTL <= 0 {
		r.callTTL = 5 * time.Second
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.started = r.now()
	return r, nil
}

func (r *RedisRouter) nodeKey(id NodeID) string      { return r.p + "node:" + string(id) }
func (r *RedisRouter) nodesKey() string              { return r.p + "nodes" }
func (r *RedisRouter) drainKey(id NodeID) string     { return r.p + "drain:" + string(id) }
func (r *RedisRouter) roomKey(k RoomKey) string      { return r.p + "room:" + string(k) }
func (r *RedisRouter) nodeRoomsKey(id NodeID) string { return r.p + "noderooms:" + string(id) }
func (r *RedisRouter) cmdChannel(id NodeID) string   { return r.p + "cmd:" + string(id) }
func (r *RedisRouter) replyKey(req string) string    { return r.p + "reply:" + req }

// Self implements Router.
func (r *RedisRouter) Self() NodeID { return r.self }

// drainFlagTTL bounds how long a drain mark outlives its node's records.
const drainFlagTTL = 7 * 24 * time.Hour

// keepRoom renews this node's placement of a running room, or claims it if
// the placement lapsed. A room placed elsewhere meanwhile (this node was
// taken for dead) is left there: KEYS[1] room, KEYS[2] node's room set,
// ARGV[1] node, ARGV[2] TTL ms, ARGV[3] room key.
var keepRoom = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return 1
`)

// Heartbeat implements Router.
func (r *RedisRouter) Heartbeat(ctx context.Context, load Load) error {
	r.mu.Lock()
	left := r.left
	r.mu.Unlock()
	if left {
		return nil
	}
	draining, err := r.rdb.Exists(ctx, r.drainKey(r.self)).Result()
	if err != nil {
		return fmt.Errorf("cluster: heartbeat: %w", err)
	}
	n := Node{ID: r.self, URL: r.url, Rooms: len(load.Rooms), Draining: draining == 1, StartedAt: r.started, Heartbeat: r.now()}
	for _, room := range load.Rooms {
		n.Participants += room.Participants
	}
	b, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("cluster: heartbeat: %w", err)
	}
	pipe := r.rdb.TxPipeline()
	pipe.Set(ctx, r.nodeKey(r.self), b, r.deadAfter)
	pipe.SAdd(ctx, r.nodesKey(), string(r.self))
	if draining == 1 {
		pipe.PExpire(ctx, r.drainKey(r.self), drainFlagTTL)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cluster: heartbeat: %w", err)
	}
	for _, room := range load.Rooms {
		kept, err := keepRoom.Run(ctx, r.rdb, []string{r.roomKey(room.Key), r.nodeRoomsKey(r.self)},
			string(r.self), r.roomTTL.Milliseconds(), string(room.Key)).Int()
		if err != nil {
			return fmt.Errorf("cluster: heartbeat: keep room: %w", err)
		}
		if kept == 0 {
			r.log.Warn("room runs here but was placed on another node", "room", room.Key)
		}
	}
	return r.pruneRooms(ctx)
}

// pruneRooms drops from this node's room set the rooms whose placement
// lapsed or moved, so that Placed counts only rooms placed here.
func (r *RedisRouter) pruneRooms(ctx context.Context) error {
	rooms, err := r.rdb.SMembers(ctx, r.nodeRoomsKey(r.self)).Result()
	if err != nil || len(rooms) == 0 {
		return wrapErr("prune rooms", err)
	}
	keys := make([]string, len(rooms))
	for i, k := range rooms {
		keys[i] = r.roomKey(RoomKey(k))
	}
	owners, err := r.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return wrapErr("prune rooms", err)
	}
	var gone []any
	for i, o := range owners {
		if s, _ := o.(string); s != string(r.self) {
			gone = append(gone, rooms[i])
		}
	}
	if len(gone) > 0 {
		return wrapErr("prune rooms", r.rdb.SRem(ctx, r.nodeRoomsKey(r.self), gone...).Err())
	}
	return nil
}

func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("cluster: %s: %w", what, err)
}

// registry reads every registered node: the live ones (with their placed
// counts) and the IDs of those whose record expired.
func (r *RedisRouter) registry(ctx context.Context) (live []Node, dead []NodeID, err error) {
	ids, err := r.rdb.SMembers(ctx, r.nodesKey()).Result()
	if err != nil {
		return nil, nil, wrapErr("list nodes", err)
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	slices.Sort(ids)
	pipe := r.rdb.Pipeline()
	recs := make([]*redis.StringCmd, len(ids))
	placed := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		recs[i] = pipe.Get(ctx, r.nodeKey(NodeID(id)))
		placed[i] = pipe.SCard(ctx, r.nodeRoomsKey(NodeID(id)))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, wrapErr("list nodes", err)
	}
	for i, id := range ids {
		b, err := recs[i].Bytes()
		if errors.Is(err, redis.Nil) {
			dead = append(dead, NodeID(id))
			continue
		}
		var n Node
		if err != nil || json.Unmarshal(b, &n) != nil || n.ID != NodeID(id) {
			r.log.Warn("unreadable node record", "node", id)
			continue
		}
		n.Placed = int(placed[i].Val())
		live = append(live, n)
	}
	return live, dead, nil
}

// Nodes implements Router.
func (r *RedisRouter) Nodes(ctx context.Context) ([]Node, error) {
	live, _, err := r.registry(ctx)
	return live, err
}

func (r *RedisRouter) node(ctx context.Context, id NodeID) (Node, error) {
	b, err := r.rdb.Get(ctx, r.nodeKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Node{}, fmt.Errorf("%w: %s", ErrUnknownNode, id)
	}
	if err != nil {
		return Node{}, wrapErr("read node", err)
	}
	var n Node
	if err := json.Unmarshal(b, &n); err != nil {
		return Node{}, fmt.Errorf("cluster: read node %s: %w", id, err)
	}
	return n, nil
}

// moveRoom places a room on ARGV[2] if it is still where the caller saw it
// (ARGV[1], empty for nowhere): KEYS[1] room, KEYS[2] new node's room set,
// KEYS[3] old node's room set; ARGV[3] TTL ms, ARGV[4] room key. It returns
// the room's node after the call.
var moveRoom = redis.NewScript(`
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return cur end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
if ARGV[1] ~= '' then redis.call('SREM', KEYS[3], ARGV[4]) end
return ARGV[2]
`)

// placeAttempts bounds how often PlaceRoom retries after losing a race to
// another node placing the same room.
const placeAttempts = 4

// PlaceRoom implements Router. A room stays on its node while that node
// lives, draining or not; otherwise it goes to the least-loaded live node
// that is not draining. Concurrent placements on several nodes agree:
// moveRoom only writes if nobody placed the room in between.
func (r *RedisRouter) PlaceRoom(ctx context.Context, room RoomKey) (Node, error) {
	for range placeAttempts {
		cur, err := r.rdb.Get(ctx, r.roomKey(room)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return Node{}, wrapErr("place room", err)
		}
		live, _, err := r.registry(ctx)
		if err != nil {
			return Node{}, err
		}
		if cur != "" {
			if i := slices.IndexFunc(live, func(n Node) bool { return n.ID == NodeID(cur) }); i >= 0 {
				// Sticky: renew the placement so that it outlives this join.
				if err := r.rdb.PExpire(ctx, r.roomKey(room), r.roomTTL).Err(); err != nil {
					return Node{}, wrapErr("place room", err)
				}
				return live[i], nil
			}
		}
		best, ok := leastLoaded(live)
		if !ok {
			return Node{}, ErrNoNode
		}
		got, err := moveRoom.Run(ctx, r.rdb,
			[]string{r.roomKey(room), r.nodeRoomsKey(best.ID), r.nodeRoomsKey(NodeID(cur))},
			cur, string(best.ID), r.roomTTL.Milliseconds(), string(room)).Text()
		if err != nil {
			return Node{}, wrapErr("place room", err)
		}
		if got == string(best.ID) {
			if cur != "" {
				r.log.Info("room placed again", "room", room, "from", cur, "to", best.ID)
			}
			best.Placed++
			return best, nil
		}
	}
	return Node{}, fmt.Errorf("cluster: place room: contended %d times", placeAttempts)
}

// RoomNode implements Router.
func (r *RedisRouter) RoomNode(ctx context.Context, room RoomKey) (Node, error) {
	cur, err := r.rdb.Get(ctx, r.roomKey(room)).Result()
	if errors.Is(err, redis.Nil) {
		return Node{}, ErrNotPlaced
	}
	if err != nil {
		return Node{}, wrapErr("room node", err)
	}
	n, err := r.node(ctx, NodeID(cur))
	if errors.Is(err, ErrUnknownNode) {
		return Node{}, ErrNotPlaced
	}
	return n, err
}

// SetDraining implements Router. The mark is its own key, so that it holds
// from now on even before the node's next heartbeat rewrites its record.
func (r *RedisRouter) SetDraining(ctx context.Context, id NodeID, draining bool) error {
	n, err := r.node(ctx, id)
	if err != nil {
		return err
	}
	if draining {
		err = r.rdb.Set(ctx, r.drainKey(id), "1", drainFlagTTL).Err()
	} else {
		err = r.rdb.Del(ctx, r.drainKey(id)).Err()
	}
	if err != nil {
		return wrapErr("drain", err)
	}
	// Rewrite the record at once so that placement sees the mark now.
	n.Draining = draining
	b, err := json.Marshal(n)
	if err != nil {
		return wrapErr("drain", err)
	}
	return wrapErr("drain", r.rdb.SetArgs(ctx, r.nodeKey(id), b, redis.SetArgs{Mode: "XX", KeepTTL: true}).Err())
}

// Reap implements Router: every node runs it after its heartbeat, and the
// scripts make concurrent reaps agree.
func (r *RedisRouter) Reap(ctx context.Context) (int, error) {
	live, dead, err := r.registry(ctx)
	if err != nil || len(dead) == 0 {
		return 0, err
	}
	moved := 0
	for _, id := range dead {
		rooms, err := r.rdb.SMembers(ctx, r.nodeRoomsKey(id)).Result()
		if err != nil {
			return moved, wrapErr("reap", err)
		}
		r.log.Warn("node missed its heartbeats; placing its rooms again", "node", id, "rooms", len(rooms))
		for _, room := range rooms {
			best, ok := leastLoaded(live)
			if !ok {
				break // nowhere to go; the next join retries
			}
			got, err := moveRoom.Run(ctx, r.rdb,
				[]string{r.roomKey(RoomKey(room)), r.nodeRoomsKey(best.ID), r.nodeRoomsKey(id)},
				string(id), string(best.ID), r.roomTTL.Milliseconds(), room).Text()
			if err != nil {
				return moved, wrapErr("reap", err)
			}
			if got == string(best.ID) {
				moved++
				for i := range live {
					if live[i].ID == best.ID {
						live[i].Placed++
					}
				}
			}
		}
		pipe := r.rdb.TxPipeline()
		pipe.Del(ctx, r.nodeRoomsKey(id), r.drainKey(id))
		pipe.SRem(ctx, r.nodesKey(), string(id))
		if _, err := pipe.Exec(ctx); err != nil {
			return moved, wrapErr("reap", err)
		}
	}
	return moved, nil
}

// maxCommand bounds a command or reply read from Redis.
const maxCommand = 1 << 20

type envelope struct {
	ID  string  `json:"id"`
	Cmd Command `json:"cmd"`
}

var reqIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// decodeEnvelope reads a command from the node's channel: bounded in size,
// with a request ID of the form Call makes (it names a Redis key).
func decodeEnvelope(b []byte) (envelope, error) {
	var env envelope
	if len(b) > maxCommand {
		return env, errors.New("cluster: command too large")
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return envelope{}, fmt.Errorf("cluster: command: %w", err)
	}
	if !reqIDPattern.MatchString(env.ID) {
		return envelope{}, errors.New("cluster: command: bad request id")
	}
	return env, nil
}

// Call implements Router: it publishes cmd on the node's channel and waits
// for the reply on a list named by a fresh request ID.
func (r *RedisRouter) Call(ctx context.Context, id NodeID, cmd Command) (Result, error) {
	var rb [16]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return Result{}, wrapErr("call", err)
	}
	req := hex.EncodeToString(rb[:])
	b, err := json.Marshal(envelope{ID: req, Cmd: cmd})
	if err != nil {
		return Result{}, wrapErr("call", err)
	}
	n, err := r.rdb.Publish(ctx, r.cmdChannel(id), b).Result()
	if err != nil {
		return Result{}, wrapErr("call", err)
	}
	if n == 0 {
		return Result{}, fmt.Errorf("%w: %s is not listening", ErrNodeUnavailable, id)
	}
	timeout := r.callTTL
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	if timeout < time.Millisecond {
		return Result{}, fmt.Errorf("%w: %s", ErrNodeUnavailable, id)
	}
	v, err := r.rdb.BLPop(ctx, timeout, r.replyKey(req)).Result()
	if errors.Is(err, redis.Nil) {
		return Result{}, fmt.Errorf("%w: %s", ErrNodeUnavailable, id)
	}
	if err != nil {
		return Result{}, wrapErr("call", err)
	}
	if len(v) != 2 || len(v[1]) > maxCommand {
		return Result{}, errors.New("cluster: call: malformed reply")
	}
	var res Result
	if err := json.Unmarshal([]byte(v[1]), &res); err != nil {
		return Result{}, fmt.Errorf("cluster: call: %w", err)
	}
	return res, nil
}

// maxConcurrentCommands bounds the commands a node runs at once.
const maxConcurrentCommands = 16

// Serve implements Router. Each command runs in its own goroutine, at most
// maxConcurrentCommands at once, each bounded by the call timeout; Serve
// returns once ctx ended and they all finished.
func (r *RedisRouter) Serve(ctx context.Context, h Handler) error {
	sub := r.rdb.Subscribe(ctx, r.cmdChannel(r.self))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return wrapErr("serve", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxConcurrentCommands)
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-ch:
			if !ok {
				return nil
			}
			env, err := decodeEnvelope([]byte(msg.Payload))
			if err != nil {
				r.log.Warn("malformed command", "size", len(msg.Payload))
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			wg.Go(func() {
				defer func() { <-sem }()
				cctx, cancel := context.WithTimeout(ctx, r.callTTL)
				defer cancel()
				res := h(cctx, env.Cmd)
				b, err := json.Marshal(res)
				if err != nil {
					return
				}
				pipe := r.rdb.TxPipeline()
				pipe.RPush(cctx, r.replyKey(env.ID), b)
				pipe.Expire(cctx, r.replyKey(env.ID), 30*time.Second)
				if _, err := pipe.Exec(cctx); err != nil {
					r.log.Warn("reply to command", "op", env.Cmd.Op, "err", err)
				}
			})
		}
	}
}

// Leave implements Router: the node's record and drain mark go at once and
// its rooms are left to be placed again by their next join or the next Reap.
func (r *RedisRouter) Leave(ctx context.Context) error {
	r.mu.Lock()
	r.left = true
	r.mu.Unlock()
	pipe := r.rdb.TxPipeline()
	pipe.Del(ctx, r.nodeKey(r.self), r.drainKey(r.self))
	if _, err := pipe.Exec(ctx); err != nil {
		return wrapErr("leave", err)
	}
	return nil
}
