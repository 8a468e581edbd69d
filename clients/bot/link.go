package bot

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// Errors returned when joining from a link.
var (
	// ErrBadLink is returned for a meeting link that is not of the form
	// http(s)://HOST[:PORT]/m/<roomID>#<secret>[~nophones].
	ErrBadLink = errors.New("bot: malformed meeting link")
	// ErrNoSuchMeeting is returned when the server answers 404 to /api/join:
	// the room does not exist (the server answers wrong and unknown rooms alike).
	ErrNoSuchMeeting = errors.New("bot: no such meeting")
	// ErrRateLimited is returned when the server answers 429 to /api/join.
	ErrRateLimited = errors.New("bot: join rate-limited")
	// ErrJoinRefused is returned for any other non-200 answer to /api/join.
	ErrJoinRefused = errors.New("bot: join refused")
)

const (
	roomIDLen     = 22 // 128 bits, base64url without padding
	linkSecretLen = 16 // 128 bits
	// maxJoinResponse bounds the /api/join answer we are willing to read.
	maxJoinResponse = 64 << 10
	// NoPhonesSuffix ends the fragment of a link whose meeting forbids phone
	// gateways (docs/e2ee-protocol.md, "Phones forbidden"; web/src/link.ts).
	NoPhonesSuffix = "~nophones"
)

// Link is a parsed meeting link http://HOST:PORT/m/<roomID>#<secret>, its
// fragment optionally ending in NoPhonesSuffix.
// The secret lives only in the URL fragment, which is never sent to the
// server; Link redacts it when logged.
type Link struct {
	// Base is the server's origin, e.g. http://127.0.0.1:8080.
	Base *url.URL
	// RoomID is the 22-character room ID, the capability to join.
	RoomID string
	// Secret is the 16-byte fragment secret that keys the meeting.
	Secret []byte
	// ForbidPhones: the fragment ends in NoPhonesSuffix, so a group this
	// bot creates forbids phone gateways. Once the group exists its context,
	// not the link, says whether phones may join.
	ForbidPhones bool
}

// LogValue implements slog.LogValuer: it logs the origin only.
func (l Link) LogValue() slog.Value {
	if l.Base == nil {
		return slog.StringValue("<no link>")
	}
	return slog.StringValue(l.Base.String() + "/m/<redacted>")
}

// ParseLink parses a meeting link (interfaces point 1).
func ParseLink(s string) (Link, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Link{}, fmt.Errorf("%w: %w", ErrBadLink, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Link{}, fmt.Errorf("%w: scheme %q", ErrBadLink, u.Scheme)
	}
	if u.Host == "" {
		return Link{}, fmt.Errorf("%w: no host", ErrBadLink)
	}
	room, ok := strings.CutPrefix(u.Path, "/m/")
	if !ok || len(room) != roomIDLen {
		return Link{}, fmt.Errorf("%w: path is not /m/<room>", ErrBadLink)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(room); err != nil || len(raw) != 16 {
		return Link{}, fmt.Errorf("%w: room ID is not 128 bits of base64url", ErrBadLink)
	}
	frag, forbidPhones := strings.CutSuffix(u.Fragment, NoPhonesSuffix)
	secret, err := base64.RawURLEncoding.DecodeString(frag)
	if err != nil || len(secret) != linkSecretLen {
		return Link{}, fmt.Errorf("%w: fragment is not a 128-bit base64url secret", ErrBadLink)
	}
	return Link{
		Base:   &url.URL{Scheme: u.Scheme, Host: u.Host},
		RoomID: room,
		Secret: secret,

		ForbidPhones: forbidPhones,
	}, nil
}

// Credentials are what /api/join returns: where to connect and the access
// token to present. The token is redacted when logged.
type Credentials struct {
	URL      string `json:"url"`      // ws://HOST:PORT
	Token    string `json:"token"`    // HS256 access token
	Room     string `json:"room"`     // room key (never the room ID)
	Identity string `json:"identity"` // participant identity
}

// LogValue implements slog.LogValuer: it never logs the token.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", c.URL), slog.String("identity", c.Identity))
}

// RequestJoin asks the server at base for an access token to the room with
// POST /api/join (interfaces point 1). kind is "bot", "browser" or "phone".
func RequestJoin(ctx context.Context, client *http.Client, base *url.URL, roomID, name, kind string) (Credentials, error) {
	if client == nil {
		client = http.DefaultClient
	}
	body, err := json.Marshal(map[string]string{"room": roomID, "name": name, "kind": kind})
	if err != nil {
		return Credentials{}, fmt.Errorf("bot: join: %w", err)
	}
	endpoint := base.JoinPath("/api/join")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return Credentials{}, fmt.Errorf("bot: join: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Credentials{}, fmt.Errorf("bot: join: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJoinResponse+1))
	if err != nil {
		return Credentials{}, fmt.Errorf("bot: join: read answer: %w", err)
	}
	if len(data) > maxJoinResponse {
		return Credentials{}, fmt.Errorf("bot: join: answer larger than %d bytes", maxJoinResponse)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return Credentials{}, ErrNoSuchMeeting
	case http.StatusTooManyRequests:
		return Credentials{}, ErrRateLimited
	default:
		return Credentials{}, fmt.Errorf("%w: HTTP %d", ErrJoinRefused, resp.StatusCode)
	}
	var c Credentials
	if err := json.Unmarshal(data, &c); err != nil {
		return Credentials{}, fmt.Errorf("bot: join: decode answer: %w", err)
	}
	if c.Token == "" {
		return Credentials{}, fmt.Errorf("bot: join: answer has no token")
	}
	if c.URL == "" {
		// Same origin: derive the WebSocket URL from the link's origin.
		ws := *base
		ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[base.Scheme]
		c.URL = ws.String()
	}
	return c, nil
}
