package bot

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"
)

// Errors of a bot's session.
var (
	// ErrTrackRefused is returned by Start when the server refuses to
	// publish one of the bot's tracks (for example one declaring no
	// encryption); it wraps the server's message.
	ErrTrackRefused = errors.New("bot: track refused by server")
	// ErrRefused is the E2EE error of a bot that knocked and was refused
	// from the lobby by a member.
	ErrRefused = errors.New("bot: refused from the lobby by a member")
	// ErrLeft is the session error after the server asked the bot to leave.
	ErrLeft = errors.New("bot: server asked the participant to leave")
	// ErrResumeFailed is the session error when the signal connection was
	// lost and could not be resumed.
	ErrResumeFailed = errors.New("bot: could not resume the signal connection")
	// ErrClosed is returned for operations on a closed bot.
	ErrClosed = errors.New("bot: closed")
	// ErrConnectTimeout is returned when joining takes longer than
	// Config.ConnectTimeout.
	ErrConnectTimeout = errors.New("bot: timed out joining")
)

// Config says how a bot joins and what it does. The zero value, with a
// FrameCipher, publishes audio and video and receives the high layer.
type Config struct {
	// Name is the display name sent to /api/join.
	Name string
	// NoAudio and NoVideo turn off publishing audio or video.
	NoAudio, NoVideo bool
	// Quality is the simulcast layer requested for received video; the
	// zero value asks for the high layer.
	Quality *Layer
	// Encryption is what the bot declares for its tracks in AddTrackRequest
	// (interfaces point 5). The zero value declares GCM. Declaring NONE
	// also sends frames unencrypted; it exists to test refusal.
	Encryption *livekit.Encryption_Type
	// Cipher encrypts and decrypts frames. Required unless Encryption is
	// NONE. Join builds one from the link's secret.
	Cipher FrameCipher
	// API is the pion API to build connections with; share one across
	// bots (see NewAPI). Nil builds one per bot.
	API *webrtc.API
	// HTTPClient is used for /api/join; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Dialer opens the signal WebSocket; nil means websocket.DefaultDialer.
	Dialer *websocket.Dialer
	// Logger receives the bot's logs; nil discards them. Logs never hold
	// keys, secrets, tokens or frame contents.
	Logger *slog.Logger
	// ConnectTimeout bounds joining: signal connection, join response,
	// track publication and the publisher's ICE/DTLS. Zero means 20 s.
	ConnectTimeout time.Duration
	// ResumeAttempts is how many times the bot tries to resume a lost signal
	// connection before giving up. Zero means 5.
	ResumeAttempts int
	// E2EE configures the bot's member of the meeting's MLS group when Join
	// keys SFrame from it (the default whenever Cipher is nil).
	E2EE E2EEOptions
	// Member is the kind and detail the bot's MLS credential states (zero:
	// a bot); a phone gateway says so here (see gateway.go).
	Member MemberIdentity
	// AudioSource, when set, supplies the Opus frames the bot sends
	// instead of synthetic ones (nil frame: muted, nothing sent).
	AudioSource AudioSource
	// AudioSink, when set, receives the other members' decrypted audio
	// frames that are not bot test payloads.
	AudioSink AudioSink
}

func (c *Config) quality() Layer {
	if c.Quality == nil {
		return LayerHigh
	}
	return *c.Quality
}

func (c *Config) encryption() livekit.Encryption_Type {
	if c.Encryption == nil {
		return livekit.Encryption_GCM
	}
	return *c.Encryption
}

// Bot is one participant. Create it with Join or Start; it runs until its
// context is cancelled, Leave or Close is called, or the server ends the
// session. All its methods are safe for concurrent use.
type Bot struct {
	cfg    Config
	log    *slog.Logger
	api    *webrtc.API
	cipher FrameCipher
	rng    *rand.Rand // owned by the goroutine that holds mu, or by setup
	url    string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}

	pub  *publication
	pubC *pcConn
	subC *pcConn

	joinStart  time.Time
	joinedAt   time.Time
	firstFrame atomic.Int64 // unix nanos of the first decrypted frame
	quality    atomic.Uint32
	stats      sendStats

	mu           sync.Mutex
	sig          *signalConn
	token        string
	closing      bool
	err          error
	self         *livekit.ParticipantInfo
	participants map[string]*livekit.ParticipantInfo // by SID, others only
	seen         map[string]struct{}                 // identities ever seen
	left         map[string]time.Time                // identity -> when seen leaving
	sidIdentity  map[string]string                   // participant SID -> identity, ever seen
	trackOwner   map[string]string                   // track SID -> identity, ever seen
	remote       []*remoteTrack
	midTrack     map[string]string
	published    map[string]chan publishResult // by cid
	resumes      int
	lastPong     time.Time
	rtt          time.Duration
	pingInterval time.Duration
	pingTimeout  time.Duration
}

type publishResult struct {
	info *livekit.TrackInfo
	err  error
}

// sendStats are the sender-side counters.
type sendStats struct {
	audioFramesSent atomic.Uint64
	videoFramesSent atomic.Uint64
	keyframesSent   atomic.Uint64
	packetsSent     atomic.Uint64
	bytesSent       atomic.Uint64
	sealFailures    atomic.Uint64
	keyframeReqs    atomic.Uint64
}

// Join joins the meeting of a link: it asks the link's server for a token
// with POST /api/join and starts a bot with it. Unless cfg.Cipher is set, the
// bot joins the meeting's MLS group over /e2ee, with the link's secret as its
// admission proof (or knocking, see E2EEOptions), and keys SFrame from it
// (see E2EE). The bot lives until ctx is cancelled or it is closed.
func Join(ctx context.Context, link string, cfg Config) (*Bot, error) {
	start := time.Now()
	l, err := ParseLink(link)
	if err != nil {
		return nil, err
	}
	setupCtx, cancel := context.WithTimeout(ctx, cfg.connectTimeout())
	defer cancel()
	creds, err := RequestJoin(setupCtx, cfg.HTTPClient, l.Base, l.RoomID, cfg.Name, "bot")
	if err != nil {
		return nil, err
	}
	if cfg.Cipher == nil && cfg.encryption() != livekit.Encryption_NONE {
		return joinE2EE(ctx, l, creds, cfg, start)
	}
	return start2(ctx, creds.URL, creds.Token, cfg, start)
}

// Start connects a bot to the signal server at url (ws://HOST:PORT) with an
// access token, for servers that mint tokens themselves (LiveKit) and for
// tests. It returns once the bot has joined, published its tracks and
// connected its publisher; the bot then lives until ctx is cancelled or it is
// closed.
func Start(ctx context.Context, url, token string, cfg Config) (*Bot, error) {
	return start2(ctx, url, token, cfg, time.Now())
}

func (c *Config) connectTimeout() time.Duration {
	if c.ConnectTimeout <= 0 {
		return 20 * time.Second
	}
	return c.ConnectTimeout
}

func start2(ctx context.Context, url, token string, cfg Config, joinStart time.Time) (*Bot, error) {
	if cfg.encryption() == livekit.Encryption_NONE {
		cfg.Cipher = plaintext{}
	}
	if cfg.Cipher == nil {
		return nil, errors.New("bot: no FrameCipher configured")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	api := cfg.API
	if api == nil {
		var err error
		if api, err = NewAPI(); err != nil {
			return nil, err
		}
	}
	var seed [16]byte
	_, _ = crand.Read(seed[:])
	b := &Bot{
		cfg:          cfg,
		log:          log,
		api:          api,
		cipher:       cfg.Cipher,
		rng:          rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
		url:          url,
		token:        token,
		done:         make(chan struct{}),
		joinStart:    joinStart,
		participants: make(map[string]*livekit.ParticipantInfo),
		seen:         make(map[string]struct{}),
		left:         make(map[string]time.Time),
		sidIdentity:  make(map[string]string),
		trackOwner:   make(map[string]string),
		midTrack:     make(map[string]string),
		published:    make(map[string]chan publishResult),
	}
	b.quality.Store(uint32(cfg.quality()))
	b.ctx, b.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := b.connect(ctx); err != nil {
		b.shutdown(err, false)
		return nil, err
	}
	// The bot's life follows ctx from here on. This watcher is not counted
	// in b.wg, since shutdown waits for b.wg; it ends when either context
	// is done, and shutdown always cancels b.ctx.
	go func() {
		select {
		case <-ctx.Done():
			b.shutdown(nil, true)
		case <-b.ctx.Done():
		}
	}()
	return b, nil
}

// Done is closed when the bot has stopped and all its goroutines ended.
func (b *Bot) Done() <-chan struct{} { return b.done }

// Err returns why the session ended: nil while it runs or after a local
// Leave/Close, ErrLeft or ErrResumeFailed (wrapped) otherwise.
func (b *Bot) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Identity returns the bot's participant identity and SID.
func (b *Bot) Identity() (identity, sid string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.self == nil {
		return "", ""
	}
	return b.self.Identity, b.self.Sid
}

// Leave tells the server the participant leaves, then closes the bot and
// waits for its goroutines.
func (b *Bot) Leave() { b.shutdown(nil, true) }

// Close closes the bot without telling the server (as a crashed browser
// would), and waits for its goroutines.
func (b *Bot) Close() { b.shutdown(nil, false) }

// CutSignal closes the signal WebSocket abruptly, as a network failure would,
// leaving the media connections up. The bot then resumes the session
// (reconnect=1) like livekit-client does. For tests and churn scenarios.
func (b *Bot) CutSignal() {
	b.mu.Lock()
	sig := b.sig
	b.mu.Unlock()
	if sig != nil {
		sig.cut()
	}
}

// SetQuality asks the SFU for another layer of every received video track.
func (b *Bot) SetQuality(q Layer) {
	b.quality.Store(uint32(q))
	b.mu.Lock()
	var sids []string
	for _, rt := range b.remote {
		if rt.kind == KindVideo {
			sids = append(sids, rt.sid)
		}
	}
	b.mu.Unlock()
	if len(sids) > 0 {
		b.sendTrackSettings(sids, q)
	}
}

// Quality returns the layer the bot asks for.
func (b *Bot) Quality() Layer { return Layer(b.quality.Load()) }

// shutdown ends the session once; later calls wait for the first.
func (b *Bot) shutdown(cause error, sendLeave bool) {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		<-b.done
		return
	}
	b.closing = true
	b.err = cause
	sig := b.sig
	b.mu.Unlock()

	if sig != nil {
		if sendLeave {
			_ = sig.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Leave{Leave: &livekit.LeaveRequest{
				Reason: livekit.DisconnectReason_CLIENT_INITIATED,
				Action: livekit.LeaveRequest_DISCONNECT,
			}}})
		}
		sig.close()
	}
	b.cancel()
	if b.pubC != nil {
		_ = b.pubC.pc.Close()
	}
	if b.subC != nil {
		_ = b.subC.pc.Close()
	}
	b.wg.Wait()
	close(b.done)
}

// send writes a request on the current signal connection. Failures are
// logged only: a lost connection is noticed and resumed by the read loop.
func (b *Bot) send(req *livekit.SignalRequest) {
	b.mu.Lock()
	sig := b.sig
	b.mu.Unlock()
	if sig == nil {
		return
	}
	if err := sig.send(req); err != nil {
		b.log.Debug("signal send failed", "err", err)
	}
}

// go runs f as a goroutine owned by the bot.
func (b *Bot) goOwned(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

// fail ends the session with err from inside one of the bot's goroutines.
func (b *Bot) fail(err error) {
	b.log.Info("session ended", "err", err)
	// shutdown waits for the bot's goroutines, including the caller's.
	go b.shutdown(err, false)
}

// String identifies the bot in logs.
func (b *Bot) String() string {
	id, _ := b.Identity()
	return fmt.Sprintf("bot(%s)", id)
}
