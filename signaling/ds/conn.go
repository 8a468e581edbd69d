package ds

import (
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"conclave/e2ee/dsproto"
)

// conn is one /e2ee WebSocket. Its reader is the HTTP handler's goroutine;
// its writer is writeLoop, started and waited for by that handler. Sending
// never blocks: messages queue up to a bound, past which the connection is
// dropped as too slow.
type conn struct {
	s        *Server
	ws       *websocket.Conn
	identity string
	log      *slog.Logger
	order    uint64 // arrival order in its room, for designating a creator

	out  chan []byte // nil entry: close after writing what is queued
	kill chan struct{}
	done chan struct{} // closed when writeLoop has returned

	mu      sync.Mutex
	queued  int // bytes in out
	closing bool
	killed  bool

	// Protocol state, guarded by the room's mu.
	hello    bool    // Hello received
	declined bool    // answered role create with a KeyPackage
	welcomed bool    // an MLSWelcome was delivered, Joined not yet
	pending  string  // hex KeyPackageRef of its lobby entry, if any
	member   *member // set once Joined (or resumed)
}

func newConn(s *Server, ws *websocket.Conn, identity string, log *slog.Logger) *conn {
	return &conn{
		s: s, ws: ws, identity: identity, log: log,
		out:  make(chan []byte, s.cfg.SendQueue),
		kill: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// send queues m. It reports false if the connection is closing or was just
// dropped for being too slow.
func (c *conn) send(m dsproto.Message) bool {
	b, err := dsproto.Marshal(m)
	if err != nil {
		// Only a message over its bounds fails, and the DS checks sizes
		// before relaying: this is a bug, not the peer's doing.
		c.log.Error("ds: encode", "type", m.Type().String(), "err", err)
		return false
	}
	return c.sendRaw(b)
}

func (c *conn) sendRaw(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	if c.queued+len(b) > c.s.cfg.SendQueueBytes {
		c.killLocked("send queue bytes")
		return false
	}
	select {
	case c.out <- b:
		c.queued += len(b)
		return true
	default:
		c.killLocked("send queue full")
		return false
	}
}

// killLocked drops the connection at once, without flushing.
func (c *conn) killLocked(why string) {
	c.closing = true
	if !c.killed {
		c.killed = true
		close(c.kill)
		// The writer may be blocked in a write to this very peer: closing
		// the socket ends it now rather than at the write deadline.
		_ = c.ws.UnderlyingConn().Close()
		c.log.Info("ds: connection dropped", "reason", why)
	}
}

// close sends Error{code, text} (unless code is 0) after what is queued,
// then closes the WebSocket.
func (c *conn) close(code uint16, text string) {
	var b []byte
	if code != 0 {
		var err error
		b, err = dsproto.Marshal(&dsproto.Error{Code: code, Text: []byte(text)})
		if err != nil {
			b = nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing = true
	if b != nil {
		select {
		case c.out <- b:
		default:
			c.killLocked("send queue full at close")
			return
		}
	}
	select {
	case c.out <- nil:
	default:
		c.killLocked("send queue full at close")
	}
}

// notAllowed answers a message that does not fit the connection's state;
// the connection stays open.
func (c *conn) notAllowed(text string) {
	c.send(&dsproto.Error{Code: dsproto.CodeNotAllowed, Text: []byte(text)})
}

// writeLoop writes queued messages and pings until told to close.
func (c *conn) writeLoop() {
	defer close(c.done)
	defer c.ws.Close()
	ping := time.NewTicker(c.s.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case b := <-c.out:
			if b == nil {
				_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
				_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
				c.markClosed()
				return
			}
			c.mu.Lock()
			c.queued -= len(b)
			c.mu.Unlock()
			c.s.observe("out", b)
			_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
			if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
				c.markClosed()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.s.cfg.WriteTimeout)); err != nil {
				c.markClosed()
				return
			}
		case <-c.kill:
			return
		}
	}
}

func (c *conn) markClosed() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
}
