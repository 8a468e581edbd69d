package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"conclave/signaling/cluster/redistest"
	"conclave/signaling/store"
)

const (
	testDeadAfter = 600 * time.Millisecond
	testBeat      = 150 * time.Millisecond
)

// fakeRooms is a node's media plane for these tests.
type fakeRooms struct {
	mu      sync.Mutex
	rooms   map[RoomKey]*Room
	members map[RoomKey]map[string]bool
	ended   []RoomKey
}

func newFakeRooms() *fakeRooms {
	return &fakeRooms{rooms: map[RoomKey]*Room{}, members: map[RoomKey]map[string]bool{}}
}

func (f *fakeRooms) join(room RoomKey, identity string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rooms[room] == nil {
		f.rooms[room] = &Room{Key: room, StartedAt: time.Now().UTC()}
		f.members[room] = map[string]bool{}
	}
	f.members[room][identity] = true
	f.rooms[room].Participants = len(f.members[room])
}

func (f *fakeRooms) Rooms() []Room {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Room
	for _, r := range f.rooms {
		out = append(out, *r)
	}
	return out
}

func (f *fakeRooms) EndRoom(_ context.Context, room RoomKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rooms[room] == nil {
		return ErrNoSuchRoom
	}
	delete(f.rooms, room)
	delete(f.members, room)
	f.ended = append(f.ended, room)
	return nil
}

func (f *fakeRooms) RemoveParticipant(_ context.Context, room RoomKey, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rooms[room] == nil {
		return ErrNoSuchRoom
	}
	if !f.members[room][id] {
		return ErrNoSuchParticipant
	}
	delete(f.members[room], id)
	f.rooms[room].Participants = len(f.members[room])
	return nil
}

// testNode is one router with its heartbeat loop, which the test can stop
// as if the node had died (no Leave).
type testNode struct {
	r     *RedisRouter
	rooms *fakeRooms
	stop  context.CancelFunc
	done  chan struct{}
}

func startNode(t *testing.T, rdb *redis.Client, id string) *testNode {
	t.Helper()
	r, err := NewRedis(RedisOptions{Client: rdb, Self: NodeID(id), URL: "http://" + id + ".test:8080",
		DeadAfter: testDeadAfter, RoomTTL: time.Minute, CallTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &testNode{r: r, rooms: newFakeRooms(), stop: cancel, done: make(chan struct{})}
	if err := r.Heartbeat(ctx, Load{}); err != nil {
		t.Fatal(err)
	}
	ctrl := NewController(r, n.rooms)
	served := make(chan struct{})
	go func() {
		defer close(n.done)
		var wg sync.WaitGroup
		wg.Go(func() { r.Serve(ctx, ctrl.Handler()) })
		close(served)
		tick := time.NewTicker(testBeat)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-tick.C:
				r.Heartbeat(ctx, Load{Rooms: n.rooms.Rooms()})
				r.Reap(ctx)
			}
		}
	}()
	<-served
	t.Cleanup(func() { cancel(); <-n.done })
	return n
}

// waitFor polls check until it returns "" or the deadline passes, then
// fails with the last reason.
func waitFor(t *testing.T, d time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		why := check()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitServing(t *testing.T, rdb *redis.Client, nodes ...*testNode) {
	t.Helper()
	waitFor(t, 5*time.Second, func() string {
		for _, n := range nodes {
			c, err := rdb.PubSubNumSub(context.Background(), n.r.cmdChannel(n.r.self)).Result()
			if err != nil || c[n.r.cmdChannel(n.r.self)] == 0 {
				return fmt.Sprintf("node %s not subscribed yet", n.r.self)
			}
		}
		return ""
	})
}

func TestRedisPlacementDrainAndFailover(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	a, b, c := startNode(t, rdb, "a"), startNode(t, rdb, "b"), startNode(t, rdb, "c")
	waitServing(t, rdb, a, b, c)

	nodes, err := a.r.Nodes(ctx)
	if err != nil || len(nodes) != 3 {
		t.Fatalf("nodes %v %v", nodes, err)
	}

	t.Run("least loaded spreads rooms", func(t *testing.T) {
		count := map[NodeID]int{}
		routers := []*RedisRouter{a.r, b.r, c.r}
		for i := range 6 {
			n, err := routers[i%3].PlaceRoom(ctx, RoomKey(fmt.Sprintf("room%d", i)))
			if err != nil {
				t.Fatal(err)
			}
			count[n.ID]++
		}
		for _, id := range []NodeID{"a", "b", "c"} {
			if count[id] != 2 {
				t.Fatalf("placement %v, want 2 rooms on each node", count)
			}
		}
	})

	t.Run("sticky from every node", func(t *testing.T) {
		first, err := a.r.PlaceRoom(ctx, "room4")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []*RedisRouter{a.r, b.r, c.r} {
			n, err := r.PlaceRoom(ctx, "room4")
			if err != nil || n.ID != first.ID || n.URL != "http://"+string(first.ID)+".test:8080" {
				t.Fatalf("room4 on %v (%v), want %s", n, err, first.ID)
			}
		}
	})

	t.Run("concurrent first placement agrees", func(t *testing.T) {
		got := make([]NodeID, 9)
		var wg sync.WaitGroup
		for i := range got {
			r := []*RedisRouter{a.r, b.r, c.r}[i%3]
			wg.Go(func() {
				n, err := r.PlaceRoom(ctx, "contended")
				if err != nil {
					t.Error(err)
				}
				got[i] = n.ID
			})
		}
		wg.Wait()
		for _, id := range got {
			if id != got[0] {
				t.Fatalf("nodes disagree on a room's placement: %v", got)
			}
		}
	})

	// Media: participants connect where their rooms were placed.
	for i := range 6 {
		key := RoomKey(fmt.Sprintf("room%d", i))
		n, _ := a.r.RoomNode(ctx, key)
		map[NodeID]*testNode{"a": a, "b": b, "c": c}[n.ID].rooms.join(key, "P_"+string(key))
	}

	t.Run("drain takes no new rooms and keeps old ones", func(t *testing.T) {
		if err := a.r.SetDraining(ctx, "b", true); err != nil {
			t.Fatal(err)
		}
		for i := range 6 {
			n, err := c.r.PlaceRoom(ctx, RoomKey(fmt.Sprintf("new%d", i)))
			if err != nil {
				t.Fatal(err)
			}
			if n.ID == "b" {
				t.Fatal("a draining node got a new room")
			}
		}
		bRooms := b.rooms.Rooms()
		for _, room := range bRooms {
			n, err := a.r.PlaceRoom(ctx, room.Key)
			if err != nil || n.ID != "b" {
				t.Fatalf("room %s on draining b moved to %v (%v)", room.Key, n.ID, err)
			}
		}
		// The mark survives b's own heartbeats.
		waitFor(t, 2*time.Second, func() string {
			ns, _ := a.r.Nodes(ctx)
			for _, n := range ns {
				if n.ID == "b" && n.Draining && n.Rooms == len(bRooms) {
					return ""
				}
			}
			return fmt.Sprintf("b not shown draining with its rooms: %+v", ns)
		})
		if err := a.r.SetDraining(ctx, "nope", true); !errors.Is(err, ErrUnknownNode) {
			t.Fatalf("drain unknown node: %v", err)
		}
	})

	t.Run("commands reach the room's node", func(t *testing.T) {
		ctrl := NewController(a.r, a.rooms)
		ms, silent, err := ctrl.Meetings(ctx)
		if err != nil || len(silent) != 0 || len(ms) != 6 {
			t.Fatalf("meetings %+v silent %v err %v", ms, silent, err)
		}
		var onC RoomKey
		for _, m := range ms {
			if m.Participants != 1 {
				t.Fatalf("meeting %+v", m)
			}
			if m.Node == "c" {
				onC = m.Room
			}
		}
		if _, err := ctrl.RemoveParticipant(ctx, onC, "P_nobody"); !errors.Is(err, ErrNoSuchParticipant) {
			t.Fatalf("remove unknown participant: %v", err)
		}
		if node, err := ctrl.RemoveParticipant(ctx, onC, "P_"+string(onC)); err != nil || node != "c" {
			t.Fatalf("remove: %v on %s", err, node)
		}
		if node, err := ctrl.EndMeeting(ctx, onC); err != nil || node != "c" {
			t.Fatalf("end: %v on %s", err, node)
		}
		c.rooms.mu.Lock()
		ended := c.rooms.ended
		c.rooms.mu.Unlock()
		if len(ended) != 1 || ended[0] != onC {
			t.Fatalf("c ended %v, want %s", ended, onC)
		}
		if _, err := ctrl.EndMeeting(ctx, "never-placed"); !errors.Is(err, ErrNoSuchRoom) {
			t.Fatalf("end unknown room: %v", err)
		}
	})

	t.Run("dead node's rooms are placed again", func(t *testing.T) {
		cRooms := c.rooms.Rooms()
		var placedOnC []RoomKey
		for i := range 6 {
			for _, p := range []string{"room", "new"} {
				k := RoomKey(fmt.Sprintf("%s%d", p, i))
				if n, err := a.r.RoomNode(ctx, k); err == nil && n.ID == "c" {
					placedOnC = append(placedOnC, k)
				}
			}
		}
		if len(placedOnC) == 0 || len(cRooms) == 0 {
			t.Fatalf("c hosts nothing to move (placed %v, running %v)", placedOnC, cRooms)
		}
		// c dies: no Leave, its heartbeats just stop.
		killed := time.Now()
		c.stop()
		<-c.done
		var detected time.Duration
		waitFor(t, 5*time.Second, func() string {
			for _, k := range placedOnC {
				n, err := b.r.RoomNode(ctx, k)
				if err != nil {
					return fmt.Sprintf("room %s: %v", k, err)
				}
				if n.ID != "a" {
					return fmt.Sprintf("room %s still on %s", k, n.ID)
				}
			}
			detected = time.Since(killed)
			return ""
		})
		t.Logf("dead node detected and %d rooms placed again on the one non-draining node in %v (dead_after %v, heartbeat %v)",
			len(placedOnC), detected.Round(time.Millisecond), testDeadAfter, testBeat)
		ns, _ := a.r.Nodes(ctx)
		if len(ns) != 2 {
			t.Fatalf("nodes after death: %+v", ns)
		}
		if _, err := a.r.Call(ctx, "c", Command{Op: OpRooms}); !errors.Is(err, ErrNodeUnavailable) {
			t.Fatalf("call to dead node: %v", err)
		}
		// Rooms of the living are undisturbed.
		for _, room := range b.rooms.Rooms() {
			if n, err := a.r.RoomNode(ctx, room.Key); err != nil || n.ID != "b" {
				t.Fatalf("b's room %s disturbed: %v %v", room.Key, n.ID, err)
			}
		}
	})

	t.Run("all draining means no node", func(t *testing.T) {
		if err := a.r.SetDraining(ctx, "a", true); err != nil {
			t.Fatal(err)
		}
		if _, err := a.r.PlaceRoom(ctx, "late"); !errors.Is(err, ErrNoNode) {
			t.Fatalf("place with every node draining: %v", err)
		}
		if err := a.r.SetDraining(ctx, "b", false); err != nil {
			t.Fatal(err)
		}
		if n, err := a.r.PlaceRoom(ctx, "late"); err != nil || n.ID != "b" {
			t.Fatalf("after undrain: %v %v", n.ID, err)
		}
	})

	t.Run("leave hands rooms over", func(t *testing.T) {
		if err := b.r.Leave(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.r.SetDraining(ctx, "a", false); err != nil {
			t.Fatal(err)
		}
		n, err := a.r.PlaceRoom(ctx, "late")
		if err != nil || n.ID != "a" {
			t.Fatalf("room of a node that left: %v %v", n.ID, err)
		}
	})
}

func TestRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	s := NewRedisStore(rdb, "t:", 2*time.Second)
	h1, h2 := [32]byte{1}, [32]byte{2}
	if err := s.CreateMeeting(ctx, h1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateMeeting(ctx, h1, time.Now()); err == nil {
		t.Fatal("created the same meeting twice")
	}
	if err := s.TouchMeeting(ctx, h1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchMeeting(ctx, h2, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown meeting: %v", err)
	}
	if n, err := s.CountMeetings(ctx); err != nil || n != 1 {
		t.Fatalf("count %d %v", n, err)
	}
	// The key holds the hash, never anything else.
	keys, _ := rdb.Keys(ctx, "t:*").Result()
	if len(keys) != 1 || keys[0] != "t:meeting:0100000000000000000000000000000000000000000000000000000000000000" {
		t.Fatalf("keys %v", keys)
	}
	ttl, _ := rdb.PTTL(ctx, keys[0]).Result()
	if ttl <= 0 || ttl > 2*time.Second {
		t.Fatalf("retention ttl %v", ttl)
	}
}

func TestLeastLoaded(t *testing.T) {
	cases := []struct {
		name  string
		nodes []Node
		want  NodeID
		ok    bool
	}{
		{"none", nil, "", false},
		{"all draining", []Node{{ID: "a", Draining: true}}, "", false},
		{"fewest placed", []Node{{ID: "a", Placed: 2}, {ID: "b", Placed: 1}}, "b", true},
		{"participants count", []Node{{ID: "a", Placed: 1, Participants: 9}, {ID: "b", Placed: 3}}, "b", true},
		{"tie by id", []Node{{ID: "b"}, {ID: "a"}}, "a", true},
		{"skip draining", []Node{{ID: "a", Draining: true}, {ID: "b", Placed: 50}}, "b", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := leastLoaded(tc.nodes)
			if ok != tc.ok || n.ID != tc.want {
				t.Fatalf("got %q %v, want %q %v", n.ID, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestLocalRouter(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	l := NewLocal("n1", "http://x", time.Minute, func() time.Time { return now })
	if n, err := l.PlaceRoom(ctx, "r1"); err != nil || n.ID != "n1" || n.URL != "http://x" {
		t.Fatalf("%v %v", n, err)
	}
	if err := l.SetDraining(ctx, "n1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := l.PlaceRoom(ctx, "r2"); !errors.Is(err, ErrNoNode) {
		t.Fatalf("new room on a draining node: %v", err)
	}
	if _, err := l.PlaceRoom(ctx, "r1"); err != nil {
		t.Fatalf("existing room on a draining node: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := l.RoomNode(ctx, "r1"); !errors.Is(err, ErrNotPlaced) {
		t.Fatalf("lapsed placement: %v", err)
	}
	// A running room stays placed.
	l.Heartbeat(ctx, Load{Rooms: []Room{{Key: "r1", Participants: 2}}})
	now = now.Add(30 * time.Second)
	if n, err := l.RoomNode(ctx, "r1"); err != nil || n.Participants != 2 || !n.Draining {
		t.Fatalf("running room: %+v %v", n, err)
	}
	if err := l.SetDraining(ctx, "other", true); !errors.Is(err, ErrUnknownNode) {
		t.Fatal(err)
	}
	if _, err := l.Call(ctx, "n1", Command{Op: OpRooms}); !errors.Is(err, ErrNodeUnavailable) {
		t.Fatalf("call before serve: %v", err)
	}
	rooms := newFakeRooms()
	rooms.join("r1", "P_1")
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); l.Serve(sctx, Dispatch(rooms)) }()
	waitFor(t, time.Second, func() string {
		if _, err := l.Call(ctx, "n1", Command{Op: OpRooms}); err != nil {
			return err.Error()
		}
		return ""
	})
	ctrl := NewController(l, rooms)
	ms, _, err := ctrl.Meetings(ctx)
	if err != nil || len(ms) != 1 || ms[0].Room != "r1" || ms[0].Node != "n1" {
		t.Fatalf("meetings %+v %v", ms, err)
	}
	cancel()
	<-done
}

type recordingRemover struct{ calls []string }

func (r *recordingRemover) RemoveMember(_ context.Context, room RoomKey, id string) error {
	r.calls = append(r.calls, string(room)+"/"+id)
	return nil
}

func TestWithRemoverAsksDeliveryServiceFirst(t *testing.T) {
	rooms := newFakeRooms()
	rooms.join("r", "P_1")
	rm := &recordingRemover{}
	l := WithRemover(rooms, rm)
	if err := l.RemoveParticipant(context.Background(), "r", "P_1"); err != nil {
		t.Fatal(err)
	}
	if len(rm.calls) != 1 || rm.calls[0] != "r/P_1" || rooms.Rooms()[0].Participants != 0 {
		t.Fatalf("remover calls %v, rooms %+v", rm.calls, rooms.Rooms())
	}
}
