package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"conclave/clients/bot"
	"conclave/clients/phone/dialin"
	"conclave/e2ee/session"
)

// BotDialer joins meetings as phone gateway members with clients/bot: a
// LiveKit participant that is an MLS member of kind session.KindPhone,
// keyed by the meeting's group, publishing the phone's Opus frames and
// handing the members' decrypted Opus frames to the leg.
type BotDialer struct {
	// API is the pion API shared by the gateway's members (bot.NewAPI).
	API *webrtc.API
	// Logger gets the members' connection logs (never media or digits).
	Logger *slog.Logger
	// Timing overrides the MLS session's delays (tests); zero: defaults.
	Timing session.Timing
}

// sendQueue is how many 20 ms frames of the phone's audio may wait for
// the member's media clock (60 ms); older frames are dropped first.
const sendQueue = 3

// audioQueue bounds the members' frames waiting for the leg's decoder.
const audioQueue = 256

// Dial is a DialFunc: it knocks on room without the link secret (the
// gateway never has it), so the members must admit it from the lobby,
// and returns once it is a member of the group.
func (d BotDialer) Dial(ctx context.Context, room dialin.Room, caller Caller) (MemberClient, error) {
	base, err := url.Parse(room.Server)
	if err != nil {
		return nil, fmt.Errorf("%w: server %q: %w", ErrMeetingGone, room.Server, err)
	}
	m := &botMember{
		send:  make(chan []byte, sendQueue),
		audio: make(chan AudioFrame, audioQueue),
	}
	cfg := bot.Config{
		Name:    caller.DisplayName(),
		NoVideo: true,
		API:     d.API,
		Logger:  d.Logger,
		Member:  bot.MemberIdentity{Kind: session.KindPhone, Detail: caller.Identity + " via " + caller.Gateway},
		E2EE:    bot.E2EEOptions{Knock: true, WaitJoined: true, Timing: d.Timing},
		// The member's media clock pulls the phone's frames; nothing
		// queued (muted, or the call's clock behind) sends nothing.
		AudioSource: m.next,
		AudioSink:   m.deliver,
	}
	// The member outlives ctx (the lobby wait): it lives until Close. While
	// knocking, ctx ending (the caller hung up, the wait is over) ends it.
	life, end := context.WithCancel(context.WithoutCancel(ctx))
	detach := context.AfterFunc(ctx, end)
	b, err := bot.JoinRoom(life, base, room.ID, cfg)
	if !detach() || err != nil {
		end()
		if err == nil {
			b.Close()
			err = ctx.Err()
		}
		switch {
		case errors.Is(err, session.ErrPhonesForbidden):
			return nil, fmt.Errorf("%w: %w", ErrPhonesForbidden, err)
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			return nil, fmt.Errorf("%w: %w", ErrRefused, err)
		default:
			return nil, fmt.Errorf("%w: %w", ErrMeetingGone, err)
		}
	}
	m.b, m.end = b, end
	m.wg.Add(1)
	go m.watchRoster()
	return m, nil
}

// botMember adapts a bot to MemberClient.
type botMember struct {
	b     *bot.Bot
	end   context.CancelFunc
	send  chan []byte
	audio chan AudioFrame

	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
}

// rosterPoll is how often a member checks whether anyone is left to talk to.
const rosterPoll = 250 * time.Millisecond

// watchRoster leaves the meeting once no member other than phone gateways
// is left in the MLS roster: the phone is then told the meeting is over and
// hung up, rather than kept in an empty meeting.
func (m *botMember) watchRoster() {
	defer m.wg.Done()
	e := m.b.E2EE()
	if e == nil {
		return
	}
	t := time.NewTicker(rosterPoll)
	defer t.Stop()
	for {
		select {
		case <-m.b.Done():
			return
		case <-t.C:
			others := 0
			for _, mem := range e.Roster() {
				if !mem.Self && mem.Identity.Kind != session.KindPhone {
					others++
				}
			}
			if others == 0 {
				m.b.Leave()
				return
			}
		}
	}
}

// next is the bot's AudioSource: the oldest queued frame, or nil.
func (m *botMember) next() []byte {
	select {
	case f := <-m.send:
		return f
	default:
		return nil
	}
}

// deliver is the bot's AudioSink: a copy of the frame for the leg, dropped
// when the leg is behind (the jitter of the mix absorbs it as loss).
func (m *botMember) deliver(f bot.AudioFrame) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	select {
	case m.audio <- AudioFrame{From: f.From, Opus: append([]byte(nil), f.Opus...)}:
	default:
	}
}

// SendOpus queues one frame for the member's media clock.
func (m *botMember) SendOpus(frame []byte) error {
	select {
	case <-m.b.Done():
		return ErrMeetingGone
	default:
	}
	f := append([]byte(nil), frame...)
	for {
		select {
		case m.send <- f:
			return nil
		default:
			select {
			case <-m.send: // drop the oldest
			default:
			}
		}
	}
}

func (m *botMember) Audio() <-chan AudioFrame { return m.audio }
func (m *botMember) Done() <-chan struct{}    { return m.b.Done() }

// Close leaves the meeting (the members see the phone go).
func (m *botMember) Close() {
	m.b.Leave()
	<-m.b.Done()
	m.wg.Wait()
	m.end()
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
}
