package ds

import (
	"log/slog"
	"testing"
)

// TestQueueStats counts queued messages and bytes, lobby entries and the
// handshake log over rooms, with the fullest connection's bytes.
func TestQueueStats(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler), rooms: map[string]*room{}}
	if q := s.QueueStats(); q != (QueueStats{}) {
		t.Fatalf("empty server: %+v", q)
	}
	a, b := newRoom(s, "room-a"), newRoom(s, "room-b")
	s.rooms["a"], s.rooms["b"] = a, b
	queue := func(r *room, msgs ...string) {
		c := &conn{out: make(chan []byte, 8)}
		for _, m := range msgs {
			c.out <- []byte(m)
			c.queued += len(m)
		}
		r.conns[c] = struct{}{}
	}
	queue(a, "12345", "678")
	queue(a)
	queue(b, "1234567890")
	a.pending["ref"] = &joiner{}
	b.hlog = []logEntry{{seq: 1, msg: []byte("hs")}, {seq: 2, msg: []byte("hs2")}}
	b.hlogBytes = 5
	want := QueueStats{Rooms: 2, Conns: 3, SendMessages: 3, SendBytes: 18, MaxSendBytes: 10, Lobby: 1, LogMessages: 2, LogBytes: 5}
	if q := s.QueueStats(); q != want {
		t.Fatalf("QueueStats %+v, want %+v", q, want)
	}
}
