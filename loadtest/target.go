package loadtest

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/livekit/protocol/auth"

	"conclave/clients/bot"
)

// Server kinds.
const (
	// ServerConclave: meetings are created with POST /api/meetings and
	// joined through their links (POST /api/join).
	ServerConclave = "conclave"
	// ServerLiveKit: any server speaking the LiveKit signal protocol whose
	// tokens the load test mints itself from an API key and secret.
	ServerLiveKit = "livekit"
)

// ErrNotLoopback is returned for a target URL that is not on this machine.
var ErrNotLoopback = errors.New("loadtest: the target must be a loopback address")

// checkLoopback accepts http(s)/ws(s) URLs whose host is a loopback IP, or a
// name that resolves only to loopback addresses.
func checkLoopback(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("loadtest: --url: %w", err)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return nil, fmt.Errorf("loadtest: --url %q: want http(s):// or ws(s)://", raw)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("loadtest: --url %q has no host", raw)
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("%w: %s", ErrNotLoopback, host)
		}
		return u, nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("loadtest: resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return nil, fmt.Errorf("%w: %s resolves to %s", ErrNotLoopback, host, a.IP)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: %s resolves to nothing", ErrNotLoopback, host)
	}
	return u, nil
}

// target joins bots to one room of the server under test.
type target interface {
	// join starts one bot with cfg (Name set by the caller).
	join(ctx context.Context, cfg bot.Config) (*bot.Bot, error)
}

// conclaveTarget is a meeting on a Conclave server, joined through its link.
type conclaveTarget struct {
	link   string
	client *http.Client
}

// maxRateLimitWait bounds how long a join retries after HTTP 429.
const maxRateLimitWait = 30 * time.Second

// newConclaveTarget creates a meeting with POST /api/meetings (interfaces
// point 1) and makes its link with a fresh fragment secret, which only the
// bots see.
func newConclaveTarget(ctx context.Context, base *url.URL, client *http.Client) (*conclaveTarget, error) {
	b := *base
	b.Scheme = strings.Replace(strings.Replace(b.Scheme, "wss", "https", 1), "ws", "http", 1)
	b.Path, b.RawQuery, b.Fragment = "", "", ""
	var room string
	err := retryRateLimited(ctx, func() error {
		var err error
		room, err = createMeeting(ctx, client, b.String())
		return err
	}, nil)
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	if _, err := crand.Read(secret); err != nil {
		return nil, fmt.Errorf("loadtest: link secret: %w", err)
	}
	link := b.String() + "/m/" + room + "#" + base64.RawURLEncoding.EncodeToString(secret)
	return &conclaveTarget{link: link, client: client}, nil
}

func createMeeting(ctx context.Context, client *http.Client, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/meetings", bytes.NewReader([]byte("{}")))
	if err != nil {
		return "", fmt.Errorf("loadtest: create meeting: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("loadtest: create meeting: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusOK:
	case http.StatusTooManyRequests:
		return "", bot.ErrRateLimited
	default:
		return "", fmt.Errorf("loadtest: create meeting: HTTP %d", resp.StatusCode)
	}
	var out struct {
		Room string `json:"room"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Room == "" {
		return "", fmt.Errorf("loadtest: create meeting: unexpected answer")
	}
	return out.Room, nil
}

func (t *conclaveTarget) join(ctx context.Context, cfg bot.Config) (*bot.Bot, error) {
	cfg.HTTPClient = t.client
	return bot.Join(ctx, t.link, cfg)
}

// retryRateLimited calls f until it does not fail with bot.ErrRateLimited,
// backing off up to maxRateLimitWait in total. The bench configuration
// raises the server's join rate limit, so this is a safety net, counted in
// the report through onRetry.
func retryRateLimited(ctx context.Context, f func() error, onRetry func()) error {
	deadline := time.Now().Add(maxRateLimitWait)
	wait := 200 * time.Millisecond
	for {
		err := f()
		if !errors.Is(err, bot.ErrRateLimited) || time.Now().Add(wait).After(deadline) {
			return err
		}
		if onRetry != nil {
			onRetry()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 3*time.Second)
	}
}

// tokenTarget is a room on a LiveKit-protocol server whose access tokens
// the load test mints (HS256 with a VideoGrant, as LiveKit's own tools do).
// The bots key SFrame with benchKeys; the server sees tracks declared GCM,
// which LiveKit forwards like any other.
type tokenTarget struct {
	url         string
	key, secret string
	room        string
}

func newTokenTarget(base *url.URL, key, secret string) (*tokenTarget, error) {
	if key == "" || secret == "" {
		return nil, errors.New("loadtest: --livekit-key and --livekit-secret are required for a LiveKit server")
	}
	u := *base
	u.Scheme = strings.Replace(strings.Replace(u.Scheme, "https", "wss", 1), "http", "ws", 1)
	u.Path, u.RawQuery, u.Fragment = "", "", ""
	rnd := make([]byte, 8)
	if _, err := crand.Read(rnd); err != nil {
		return nil, fmt.Errorf("loadtest: room name: %w", err)
	}
	return &tokenTarget{
		url: u.String(), key: key, secret: secret,
		room: "loadtest-" + base64.RawURLEncoding.EncodeToString(rnd),
	}, nil
}

func (t *tokenTarget) token(identity, name string) (string, error) {
	at := auth.NewAccessToken(t.key, t.secret)
	at.SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: t.room}).
		SetIdentity(identity).SetName(name).SetMetadata(`{"kind":"bot"}`).
		SetValidFor(time.Hour)
	tok, err := at.ToJWT()
	if err != nil {
		return "", fmt.Errorf("loadtest: mint token: %w", err)
	}
	return tok, nil
}

func (t *tokenTarget) join(ctx context.Context, cfg bot.Config) (*bot.Bot, error) {
	rnd := make([]byte, 9)
	if _, err := crand.Read(rnd); err != nil {
		return nil, fmt.Errorf("loadtest: identity: %w", err)
	}
	tok, err := t.token("LT_"+base64.RawURLEncoding.EncodeToString(rnd), cfg.Name)
	if err != nil {
		return nil, err
	}
	return bot.Start(ctx, t.url, tok, cfg)
}
