package rtc

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Errors of signal message decoding.
var (
	ErrMessageTooLarge = errors.New("rtc: signal message too large")
	ErrMalformed       = errors.New("rtc: malformed signal message")
	ErrUnknownMessage  = errors.New("rtc: unknown signal message")
)

// DecodeRequest decodes one WebSocket message into a SignalRequest: binary
// frames as protobuf, text frames as protobuf JSON (livekit-client's useJSON
// mode). It refuses messages over max bytes before decoding and requests
// whose message field is unset or of a type this protocol version does not
// define.
func DecodeRequest(binary bool, data []byte, max int) (*livekit.SignalRequest, error) {
	if len(data) > max {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(data), max)
	}
	req := &livekit.SignalRequest{}
	var err error
	if binary {
		err = proto.UnmarshalOptions{RecursionLimit: 20}.Unmarshal(data, req)
	} else {
		err = protojson.UnmarshalOptions{DiscardUnknown: true, RecursionLimit: 20}.Unmarshal(data, req)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if req.Message == nil {
		return nil, ErrUnknownMessage
	}
	return req, nil
}

// conn is one participant WebSocket. Writes go through a bounded queue and
// one writer goroutine, so that nothing in a room ever blocks on a slow
// client: a client whose queue overflows is disconnected.
type conn struct {
	ws     *websocket.Conn
	binary bool
	out    chan []byte
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	mu        sync.Mutex
	closeCode int
	closeText string
}

const sendQueue = 512

func newConn(ws *websocket.Conn, binary bool) *conn {
	c := &conn{ws: ws, binary: binary, out: make(chan []byte, sendQueue), done: make(chan struct{})}
	c.wg.Add(1)
	go c.writeLoop()
	return c
}

func (c *conn) writeLoop() {
	defer c.wg.Done()
	kind := websocket.BinaryMessage
	if !c.binary {
		kind = websocket.TextMessage
	}
	for {
		select {
		case msg := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.ws.WriteMessage(kind, msg); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.done:
			// Flush what is queued (a final LeaveRequest), then close.
		drain:
			for {
				select {
				case msg := <-c.out:
					_ = c.ws.SetWriteDeadline(time.Now().Add(time.Second))
					if c.ws.WriteMessage(kind, msg) != nil {
						_ = c.ws.Close()
						return
					}
				default:
					break drain
				}
			}
			c.mu.Lock()
			code, text := c.closeCode, c.closeText
			c.mu.Unlock()
			if code != websocket.CloseAbnormalClosure {
				_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
			}
			_ = c.ws.Close()
			return
		}
	}
}

// send queues a response; it reports false if the connection is closed or
// its queue is full (which closes it).
func (c *conn) send(res *livekit.SignalResponse) bool {
	var b []byte
	var err error
	if c.binary {
		b, err = proto.Marshal(res)
	} else {
		b, err = protojson.Marshal(res)
	}
	if err != nil {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- b:
		return true
	default:
		c.close(websocket.ClosePolicyViolation, "signal queue overflow")
		return false
	}
}

// close ends the connection with a close frame carrying code and text
// (RFC 6455, Section 7.4), after flushing queued messages.
func (c *conn) close(code int, text string) {
	c.once.Do(func() {
		c.mu.Lock()
		c.closeCode, c.closeText = code, text
		c.mu.Unlock()
		close(c.done)
	})
}

func (c *conn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait closes and waits for the writer to finish.
func (c *conn) wait() { c.wg.Wait() }
