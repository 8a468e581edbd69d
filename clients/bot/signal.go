package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// ProtocolVersion is the LiveKit signal protocol version the bot speaks,
// the one livekit-client 2.x announces.
const ProtocolVersion = 17

const (
	// maxSignalMessage bounds a signal message we accept from the server.
	maxSignalMessage = 1 << 20
	signalWriteWait  = 5 * time.Second
)

// Errors of the signal connection.
var (
	// ErrUnauthorized is returned when the server refuses the WebSocket
	// upgrade for the token (HTTP 401 or 403): invalid, expired or for
	// another room.
	ErrUnauthorized = errors.New("bot: signal connection refused: unauthorized")
	// ErrSignalRefused is returned for any other refused upgrade.
	ErrSignalRefused = errors.New("bot: signal connection refused")
	// ErrSignalClosed is returned when writing to a closed signal connection.
	ErrSignalClosed = errors.New("bot: signal connection closed")

	errDecode = errors.New("bot: undecodable signal response")
)

// signalConn is one WebSocket carrying SignalRequest/SignalResponse protobufs.
// Writes may come from any goroutine; reads only from the bot's signal loop.
type signalConn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
}

// signalURL builds the /rtc URL with the query parameters livekit-client
// sends (client-sdk-js: createConnectionParams).
func signalURL(base, token string, reconnect bool, sid string, reason livekit.ReconnectReason) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("bot: signal url: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("bot: signal url: scheme %q", u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/rtc"
	q := url.Values{}
	q.Set("access_token", token)
	if reconnect {
		q.Set("reconnect", "1")
		if sid != "" {
			q.Set("sid", sid)
		}
	}
	q.Set("auto_subscribe", "1")
	q.Set("sdk", "go")
	q.Set("version", "conclave-bot")
	q.Set("protocol", fmt.Sprint(ProtocolVersion))
	q.Set("client_protocol", "1")
	q.Set("adaptive_stream", "0")
	if reconnect && reason != livekit.ReconnectReason_RR_UNKNOWN {
		q.Set("reconnect_reason", fmt.Sprint(int32(reason)))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// dialSignal opens the signal WebSocket.
func dialSignal(ctx context.Context, dialer *websocket.Dialer, rawURL string) (*signalConn, error) {
	if dialer == nil {
		dialer = websocket.DefaultDialer
	}
	ws, resp, err := dialer.DialContext(ctx, rawURL, nil)
	if err != nil {
		if resp != nil {
			status := resp.StatusCode
			resp.Body.Close()
			if status == http.StatusUnauthorized || status == http.StatusForbidden {
				return nil, fmt.Errorf("%w (HTTP %d)", ErrUnauthorized, status)
			}
			return nil, fmt.Errorf("%w (HTTP %d): %w", ErrSignalRefused, status, err)
		}
		return nil, fmt.Errorf("bot: dial signal: %w", err)
	}
	ws.SetReadLimit(maxSignalMessage)
	return &signalConn{ws: ws}, nil
}

// send writes one request.
func (c *signalConn) send(req *livekit.SignalRequest) error {
	data, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("bot: marshal signal request: %w", err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.SetWriteDeadline(time.Now().Add(signalWriteWait)); err != nil {
		return fmt.Errorf("%w: %w", ErrSignalClosed, err)
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, data); err != nil {
		return fmt.Errorf("%w: %w", ErrSignalClosed, err)
	}
	return nil
}

// read returns the next response; the read deadline, if any, is the caller's.
func (c *signalConn) read() (*livekit.SignalResponse, error) {
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		if mt != websocket.BinaryMessage {
			// livekit-client only handles binary frames; a text frame is
			// not part of the protocol. Ignore it.
			continue
		}
		resp := &livekit.SignalResponse{}
		if err := proto.Unmarshal(data, resp); err != nil {
			return nil, fmt.Errorf("%w: %w", errDecode, err)
		}
		return resp, nil
	}
}

// close sends a close frame (best effort) and closes the socket.
func (c *signalConn) close() {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
}

// cut closes the socket without a close frame, as a lost network would.
func (c *signalConn) cut() { _ = c.ws.NetConn().Close() }
