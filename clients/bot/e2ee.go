package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"conclave/e2ee/dsproto"
	"conclave/e2ee/session"
	"conclave/e2ee/sframe"
)

// Errors of the E2EE client.
var (
	// ErrNotKeyed: a frame was sealed before the bot joined the MLS group
	// (or after it was removed); the frame is dropped, never sent in clear.
	ErrNotKeyed = errors.New("bot: not a member of the meeting's MLS group")
	// ErrE2EEClosed: the /e2ee connection ended.
	ErrE2EEClosed = errors.New("bot: e2ee connection closed")
)

// E2EEConfig says how a bot takes part in the meeting's MLS group.
type E2EEConfig struct {
	// RoomID is the link's room ID; Secret its fragment secret, nil to knock
	// and wait in the lobby.
	RoomID string
	Secret []byte
	// Participant is the access token's identity; Name the display name.
	Participant, Name string
	// AdmitAll admits every joiner that waits in the lobby (for tests and
	// load tests; a person would look at the name first).
	AdmitAll bool
	// ForbidPhones makes a group this bot creates forbid phone gateways
	// (session.ExtensionPhonesForbidden).
	ForbidPhones bool
	// Member is the kind and detail the credential states (zero: a bot).
	Member MemberIdentity
	Dialer *websocket.Dialer
	Logger *slog.Logger
	// Timing overrides the session's delays (zero: defaults).
	Timing session.Timing
	// ReconnectAttempts bounds the redials after the /e2ee WebSocket drops
	// (resume.go); zero means 5, negative none.
	ReconnectAttempts int
}

// E2EEOptions are what a bot's Config says about its MLS membership.
type E2EEOptions struct {
	// Knock joins without the link secret: the bot waits in the lobby
	// until a member admits it.
	Knock bool
	// AdmitAll admits every joiner waiting in the lobby (but refuses a
	// phone gateway when the meeting forbids phones).
	AdmitAll bool
	// ForbidPhones makes a meeting this bot creates forbid phones.
	ForbidPhones bool
	// WaitJoined makes Join return only once the bot is a member able to
	// send (for a knocking bot: once admitted), bounded by ctx and
	// JoinTimeout (zero: no bound but ctx).
	WaitJoined  bool
	JoinTimeout time.Duration
	// Timing overrides the session's delays (zero: defaults).
	Timing session.Timing
}

// joinE2EE dials /e2ee, then starts the bot with the MLS-keyed cipher.
// The bot's media flows as soon as the group is joined; until then Seal
// refuses (ErrNotKeyed) and the SFU's media gate forwards nothing to it.
func joinE2EE(ctx context.Context, l Link, creds Credentials, cfg Config, start time.Time) (*Bot, error) {
	secret := l.Secret
	if cfg.E2EE.Knock {
		secret = nil
	}
	e, err := DialE2EE(ctx, creds.URL, creds.Token, E2EEConfig{
		RoomID: l.RoomID, Secret: secret, Participant: creds.Identity, Name: cfg.Name,
		AdmitAll: cfg.E2EE.AdmitAll, Member: cfg.Member, ForbidPhones: cfg.E2EE.ForbidPhones || l.ForbidPhones, Dialer: cfg.Dialer, Logger: cfg.Logger, Timing: cfg.E2EE.Timing,
	})
	if err != nil {
		return nil, err
	}
	if cfg.E2EE.WaitJoined {
		wctx := ctx
		if cfg.E2EE.JoinTimeout > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, cfg.E2EE.JoinTimeout)
			defer cancel()
		}
		if err := e.WaitJoined(wctx); err != nil {
			e.Close()
			return nil, err
		}
	}
	return startWithE2EE(ctx, creds, cfg, e, start)
}

// startWithE2EE starts the media side of a bot keyed by e, whose MLS
// connection then lives as long as the bot.
func startWithE2EE(ctx context.Context, creds Credentials, cfg Config, e *E2EE, start time.Time) (*Bot, error) {
	cfg.Cipher = e
	b, err := start2(ctx, creds.URL, creds.Token, cfg, start)
	if err != nil {
		e.Close()
		return nil, err
	}
	// The E2EE connection ends with the bot; this goroutine ends then too.
	go func() {
		<-b.Done()
		e.Close()
	}()
	return b, nil
}

// E2EE returns the bot's MLS membership, or nil for a bot keyed otherwise.
func (b *Bot) E2EE() *E2EE {
	e, _ := b.cipher.(*E2EE)
	return e
}

// ChatMessage is a chat message the bot received.
type ChatMessage struct {
	From  string    `json:"from"` // display name from the sender's MLS credential
	Text  string    `json:"text"`
	Epoch uint64    `json:"epoch"`
	At    time.Time `json:"at"`
}

// E2EE is a bot's member of the meeting's MLS group over the /e2ee delivery
// service (docs/e2ee-protocol.md). It keys SFrame from MLS (RFC 9605,
// Section 5.2) and is the bot's FrameCipher and KeyStatus. It owns two
// goroutines (reader, timer), which end when Close is called or the
// connection ends for good: a dropped WebSocket is redialled with the
// latest token the DS refreshed, and the session resumes (resume.go).
type E2EE struct {
	log    *slog.Logger
	link   *e2eeLink
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}
	cfg    E2EEConfig

	mu         sync.Mutex // guards s and the fields below
	s          *session.Session
	err        error
	lastCode   uint16 // the DS's last Error code on this connection
	removed    bool   // the session said this member was removed
	reconnects int
	chats      []ChatMessage
	rejected   []session.Rejected
	lobby      []session.LobbyEntry
	roster     []session.Member
	epochAt    map[uint64]time.Time
	history    []EpochRecord // oldest first, at most maxEpochHistory
	joined     chan struct{}
	requested  time.Time
	wake       chan struct{}

	receiver   *sframe.MLSReceiver // the session's; safe for concurrent use
	sender     atomic.Pointer[sframe.Sender]
	epoch      atomic.Uint64
	code       atomic.Value // string
	firstOpen  atomic.Int64 // unix nanos of the first decrypted frame
	firstSeal  sync.Map     // epoch -> unix nanos of the first frame sealed in it
	openFailed atomic.Uint64
	// firstOpenIn maps an epoch to the unix nanos of the first frame
	// decrypted under it; byLow maps the low epoch bits of a KID
	// (sframe.DefaultKIDLayout) to 1 + the newest epoch entered with them.
	firstOpenIn sync.Map
	byLow       []atomic.Uint64
}

// EpochRecord is what a member saw of one MLS epoch it entered: when, who
// was in the group, and when it decrypted the first frame keyed by it.
type EpochRecord struct {
	Epoch   uint64
	Entered time.Time
	// Members are the participant identities (the access tokens'
	// identities) of the roster in this epoch.
	Members []string
	// FirstOpen is when the first frame under this epoch was decrypted
	// (from any sender); zero if none was.
	FirstOpen time.Time
}

// maxEpochHistory bounds the epochs EpochHistory remembers.
const maxEpochHistory = 1024

var (
	_ FrameCipher = (*E2EE)(nil)
	_ KeyStatus   = (*E2EE)(nil)
)

// e2eeURL builds ws(s)://HOST/e2ee?access_token=TOKEN from the signal URL.
func e2eeURL(signal, token string) (string, error) {
	u, err := url.Parse(signal)
	if err != nil {
		return "", fmt.Errorf("bot: e2ee url: %w", err)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/e2ee"
	q := url.Values{}
	q.Set("access_token", token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// DialE2EE connects to the delivery service of the server at signalURL
// (ws://HOST:PORT) with the access token and starts the session. It returns
// at once; WaitJoined waits for the group.
func DialE2EE(ctx context.Context, signalURL, token string, cfg E2EEConfig) (*E2EE, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := session.New(session.Config{
		Identity:     session.Identity{Participant: cfg.Participant, DisplayName: cfg.Name, Kind: cfg.Member.kind(), Detail: cfg.Member.Detail},
		RoomID:       cfg.RoomID,
		LinkSecret:   cfg.Secret,
		ForbidPhones: cfg.ForbidPhones,
		Timing:       cfg.Timing,
		Logger:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("bot: e2ee session: %w", err)
	}
	link, err := dialE2EELink(ctx, signalURL, token, cfg.Dialer)
	if err != nil {
		return nil, err
	}
	e := &E2EE{
		log: log, link: link, cfg: cfg, s: s, done: make(chan struct{}), receiver: s.Receiver(),
		byLow:   make([]atomic.Uint64, 1<<sframe.DefaultKIDLayout.EpochBits),
		epochAt: map[uint64]time.Time{}, joined: make(chan struct{}), wake: make(chan struct{}, 1),
	}
	e.code.Store("")
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	e.mu.Lock()
	out := s.Start(time.Now())
	e.mu.Unlock()
	if err := e.apply(out); err != nil {
		cancel()
		link.close()
		return nil, err
	}
	e.wg.Add(2)
	go e.readLoop(lctx)
	go e.timerLoop(lctx)
	go func() { e.wg.Wait(); close(e.done) }()
	return e, nil
}

// readLoop feeds the delivery service's messages to the session, and
// reconnects when the WebSocket drops (resume.go).
func (e *E2EE) readLoop(ctx context.Context) {
	defer e.wg.Done()
	defer e.cancel()
	for {
		typ, data, err := e.link.conn().ReadMessage()
		if err != nil {
			if err := e.reconnect(ctx, err); err != nil {
				e.fail(err)
				return
			}
			continue
		}
		if typ != websocket.BinaryMessage {
			continue
		}
		e.mu.Lock()
		out, herr := e.s.Handle(data, time.Now())
		e.mu.Unlock()
		// A failed write closes the WebSocket: the next read decides
		// between a reconnect and the end.
		_ = e.apply(out)
		if herr != nil {
			e.log.Warn("bot: e2ee message refused", "err", herr)
		}
		e.poke() // the session's deadline may have moved
		if ctx.Err() != nil {
			return
		}
	}
}

// timerLoop calls Tick at the session's deadline, and at least every
// 500 ms so that old media keys are erased on time.
func (e *E2EE) timerLoop(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			e.link.close()
			return
		case <-e.wake:
		case <-t.C:
			e.mu.Lock()
			out := e.s.Tick(time.Now())
			e.mu.Unlock()
			// As in readLoop: a failed write is the reader's to handle.
			_ = e.apply(out)
		}
		e.mu.Lock()
		d := e.s.Deadline()
		e.mu.Unlock()
		wait := 500 * time.Millisecond
		if !d.IsZero() {
			wait = min(wait, max(time.Until(d), time.Millisecond))
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

func (e *E2EE) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *E2EE) fail(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
	e.cancel()
}

// apply sends the session's messages and records its events. If a write
// fails, the remaining messages are lost with the connection (the session
// recovers when it resumes) but the events are still recorded; the error
// (ErrE2EEClosed) is returned after them.
func (e *E2EE) apply(out session.Output) error {
	for _, b := range out.Send {
		if len(b) > 1 && dsproto.Type(b[1]) == dsproto.TypeKeyPackage {
			e.mu.Lock()
			if e.requested.IsZero() {
				e.requested = time.Now()
			}
			e.mu.Unlock()
		}
	}
	werr := e.link.writeAll(out.Send)
	now := time.Now()
	var admit [][]byte
	e.mu.Lock()
	for _, ev := range out.Events {
		switch ev := ev.(type) {
		case session.EpochChanged:
			e.epochAt[ev.Epoch] = now
			e.byLow[ev.Epoch&(1<<sframe.DefaultKIDLayout.EpochBits-1)].Store(ev.Epoch + 1)
			// An attested joiner is told its epoch again (it may send from
			// then on): that is no new epoch.
			if n := len(e.history); n == 0 || e.history[n-1].Epoch != ev.Epoch {
				if n == maxEpochHistory {
					e.firstOpenIn.Delete(e.history[0].Epoch)
					e.history = slices.Delete(e.history, 0, 1)
				}
				e.history = append(e.history, EpochRecord{Epoch: ev.Epoch, Entered: now})
			}
			e.sender.Store(ev.Sender)
			e.epoch.Store(ev.Epoch)
			e.code.Store(ev.SecurityCode)
			if ev.Sender != nil {
				select {
				case <-e.joined:
				default:
					close(e.joined)
				}
			}
			e.log.Info("bot: epoch", "epoch", ev.Epoch)
		case session.RosterChanged:
			e.roster = ev.Members
			if n := len(e.history); n > 0 {
				ids := make([]string, 0, len(ev.Members))
				for _, m := range ev.Members {
					ids = append(ids, m.Identity.Participant)
				}
				e.history[n-1].Members = ids
			}
		case session.LobbyChanged:
			e.lobby = ev.Waiting
			if e.cfg.AdmitAll {
				for _, w := range ev.Waiting {
					admit = append(admit, w.Ref)
				}
			}
		case session.ChatReceived:
			e.chats = append(e.chats, ChatMessage{From: ev.From.Identity.DisplayName, Text: ev.Text, Epoch: ev.Epoch, At: now})
		case session.Rejected:
			e.rejected = append(e.rejected, ev)
			e.log.Warn("bot: e2ee rejected", "what", ev.What, "err", ev.Err)
		case session.LobbyStatus:
			if ev.Refused && e.err == nil {
				// Recorded before the server closes the connection, so that
				// WaitJoined and Err say why.
				e.err = ErrRefused
			}
		case session.Removed:
			e.sender.Store(nil)
			e.removed = true
		case session.ServerError:
			e.lastCode = ev.Code
			e.log.Warn("bot: e2ee server error", "code", ev.Code, "text", ev.Text)
		case session.TokenRefreshed:
			// For the next reconnect; a credential, never logged.
			e.link.setToken(ev.Token)
		}
	}
	e.mu.Unlock()
	for _, ref := range admit {
		e.mu.Lock()
		o, err := e.s.Admit(ref, time.Now())
		if errors.Is(err, session.ErrPhonesForbidden) {
			o, err = e.s.Refuse(ref)
		}
		e.mu.Unlock()
		if err == nil {
			if err := e.apply(o); err != nil {
				return err
			}
		}
	}
	if len(admit) > 0 {
		e.poke()
	}
	return werr
}

// WaitJoined waits until the bot is a member able to send.
func (e *E2EE) WaitJoined(ctx context.Context) error {
	select {
	case <-e.joined:
		return nil
	case <-ctx.Done():
		e.mu.Lock()
		member, epoch, rj := e.s.Member(), e.s.Epoch(), len(e.rejected)
		e.mu.Unlock()
		return fmt.Errorf("bot: waiting for the MLS group (member %v, epoch %d, %d rejections): %w", member, epoch, rj, ctx.Err())
	case <-e.done:
		return e.Err()
	}
}

// Err is why the connection ended, or nil.
func (e *E2EE) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// Close ends the connection and waits for the goroutines.
func (e *E2EE) Close() {
	e.cancel()
	e.link.close()
	<-e.done
}

// Done is closed when the connection's goroutines have ended.
func (e *E2EE) Done() <-chan struct{} { return e.done }

// SendChat sends an end-to-end encrypted chat message.
func (e *E2EE) SendChat(text string) error {
	e.mu.Lock()
	out, err := e.s.SendChat(text)
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("bot: chat: %w", err)
	}
	return e.apply(out)
}

// Admit admits a lobby joiner by its KeyPackageRef.
func (e *E2EE) Admit(ref []byte) error {
	e.mu.Lock()
	out, err := e.s.Admit(ref, time.Now())
	e.mu.Unlock()
	if err != nil {
		return err
	}
	e.poke()
	return e.apply(out)
}

// Refuse turns away a joiner waiting in the lobby; it is told so.
func (e *E2EE) Refuse(ref []byte) error {
	e.mu.Lock()
	out, err := e.s.Refuse(ref)
	e.mu.Unlock()
	if err != nil {
		return err
	}
	return e.apply(out)
}

// Chats returns the chat messages received so far.
func (e *E2EE) Chats() []ChatMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]ChatMessage(nil), e.chats...)
}

// Rejections returns what the session refused (server attacks, bad
// messages).
func (e *E2EE) Rejections() []session.Rejected {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]session.Rejected(nil), e.rejected...)
}

// Lobby returns the joiners waiting for admission.
func (e *E2EE) Lobby() []session.LobbyEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]session.LobbyEntry(nil), e.lobby...)
}

// Roster returns the MLS roster.
func (e *E2EE) Roster() []session.Member {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]session.Member(nil), e.roster...)
}

// EpochNumber returns the current epoch.
func (e *E2EE) EpochNumber() uint64 { return e.epoch.Load() }

// Epoch implements KeyStatus.
func (e *E2EE) Epoch() string {
	if e.sender.Load() == nil && e.epoch.Load() == 0 {
		return ""
	}
	return strconv.FormatUint(e.epoch.Load(), 10)
}

// SecurityCode implements KeyStatus.
func (e *E2EE) SecurityCode() string { return e.code.Load().(string) }

// EpochEntered returns when the bot entered epoch (zero if it did not).
func (e *E2EE) EpochEntered(epoch uint64) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.epochAt[epoch]
}

// FirstSealIn returns when the bot sealed its first frame in epoch.
func (e *E2EE) FirstSealIn(epoch uint64) time.Time {
	if v, ok := e.firstSeal.Load(epoch); ok {
		return time.Unix(0, v.(int64))
	}
	return time.Time{}
}

// Requested returns when the bot asked to join (its KeyPackage went out).
func (e *E2EE) Requested() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requested
}

// FirstOpen returns when the bot decrypted its first frame.
func (e *E2EE) FirstOpen() time.Time {
	if v := e.firstOpen.Load(); v != 0 {
		return time.Unix(0, v)
	}
	return time.Time{}
}

// Seal implements FrameCipher with the current epoch's sender.
func (e *E2EE) Seal(dst []byte, kind Kind, frame []byte) ([]byte, error) {
	s := e.sender.Load()
	if s == nil {
		return nil, ErrNotKeyed
	}
	out, err := sframe.EncryptFrame(s, codecOf(kind), dst, frame)
	if err == nil {
		ep := e.epoch.Load()
		if _, ok := e.firstSeal.Load(ep); !ok {
			e.firstSeal.LoadOrStore(ep, time.Now().UnixNano())
		}
	}
	return out, err
}

// keysArriveLate: a new epoch's frames can overtake its commit.
func (e *E2EE) keysArriveLate() bool { return true }

// Open implements FrameCipher with the session's receiver (current epoch
// and, for the grace period, the previous ones).
func (e *E2EE) Open(dst []byte, kind Kind, wire []byte) ([]byte, error) {
	out, err := sframe.DecryptFrame(e.receiver, codecOf(kind), dst, wire)
	if err != nil {
		e.openFailed.Add(1)
		return nil, err
	}
	now := time.Now().UnixNano()
	if e.firstOpen.Load() == 0 {
		e.firstOpen.CompareAndSwap(0, now)
	}
	if ep, ok := e.epochOf(kind, wire); ok {
		if _, seen := e.firstOpenIn.Load(ep); !seen {
			e.firstOpenIn.LoadOrStore(ep, now)
		}
	}
	return out, nil
}

// epochOf returns the epoch of a frame that decrypted: the newest epoch
// entered whose low bits are the KID's (RFC 9605, Section 5.2). False if
// the bot has not recorded that epoch yet (the receiver installs an epoch's
// key just before its EpochChanged event is applied).
func (e *E2EE) epochOf(kind Kind, wire []byte) (uint64, bool) {
	n, err := sframe.ClearPrefixLen(codecOf(kind), wire)
	if err != nil {
		return 0, false
	}
	h, _, err := sframe.ParseHeader(wire[n:])
	if err != nil {
		return 0, false
	}
	_, _, low := sframe.DefaultKIDLayout.Split(h.KID)
	v := e.byLow[low].Load()
	return v - 1, v != 0
}

// EpochHistory returns the epochs the bot entered, oldest first (at most
// the last 1024), with their rosters and first decrypted frames.
func (e *E2EE) EpochHistory() []EpochRecord {
	e.mu.Lock()
	out := make([]EpochRecord, len(e.history))
	for i, r := range e.history {
		r.Members = slices.Clone(r.Members)
		out[i] = r
	}
	e.mu.Unlock()
	for i := range out {
		if v, ok := e.firstOpenIn.Load(out[i].Epoch); ok {
			out[i].FirstOpen = time.Unix(0, v.(int64))
		}
	}
	return out
}
