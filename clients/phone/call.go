package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"conclave/clients/phone/dialin"
	"conclave/clients/phone/mix"
	"conclave/clients/phone/prompts"
	"conclave/clients/phone/stream"
)

// maxCodeAttempts wrong codes end a call.
const maxCodeAttempts = 3

// errors that end a call, with the Reason we give in the BYE (RFC 3326).
var (
	errWrongCode = errors.New("phone: wrong code")
	errLimited   = errors.New("phone: too many wrong codes")
	errTimeout   = errors.New("phone: no code entered")
)

// call is one phone call from INVITE to hang-up.
type call struct {
	g         *Gateway
	id        uint64
	callID    string
	log       *slog.Logger
	dtx       *sipgo.DialogServerSession
	stream    *stream.Stream
	conn      *net.UDPConn
	who       identity
	caller    Caller
	answer    []byte
	transport string
	expires   time.Duration

	end       chan struct{} // closed when the phone hangs up
	endOnce   sync.Once
	refreshed chan struct{}

	mu     sync.Mutex
	fg     *prompts.Player // one-shot prompt, over everything
	bg     *prompts.Player // looping prompt when not in a meeting
	leg    Leg
	mixer  *mix.Mixer
	muted  bool
	remote netip.AddrPort
}

func (c *call) hungUp() { c.endOnce.Do(func() { close(c.end) }) }

func (c *call) digit(d byte) { c.stream.Digit(d) }

func (c *call) refresh() {
	select {
	case c.refreshed <- struct{}{}:
	default:
	}
}

func (c *call) remoteAddr() netip.AddrPort { return c.remote }

func (c *call) timerHeaders() []sip.Header {
	if c.expires <= 0 {
		return nil
	}
	// The caller refreshes (RFC 4028, Section 7.4: refresher=uac).
	return []sip.Header{
		sip.NewHeader("Session-Expires", strconv.Itoa(int(c.expires/time.Second))+";refresher=uac"),
		sip.NewHeader("Require", "timer"),
	}
}

func (c *call) rateKey() string {
	if c.who.trunk {
		return "trunk:" + c.who.addr.String() + ":" + c.caller.Identity
	}
	return "user:" + c.who.user
}

// answer sends the 200 OK and waits for the ACK (RFC 3261, Section
// 13.3.1.4); it must run in the INVITE's handler, whose return ends the
// server transaction.
func (c *call) answerCall() error {
	res := sip.NewSDPResponseFromRequest(c.dtx.InviteRequest, c.answer)
	res.AppendHeader(c.g.contact(c.transport))
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	for _, h := range c.timerHeaders() {
		res.AppendHeader(h)
	}
	return c.dtx.WriteResponse(res)
}

// run runs a confirmed call's media and dial-in dialogue, and hangs up
// unless the phone did.
func (c *call) run(ctx context.Context) {
	defer c.conn.Close()
	defer c.dtx.Close()
	start := time.Now()
	c.log.Info("call answered", "caller_kind", kindOf(c.who))

	mctx, stopMedia := context.WithCancel(ctx)
	defer stopMedia()
	mediaDone := make(chan struct{})
	go func() {
		defer close(mediaDone)
		if err := c.stream.Run(mctx, c.uplink, c.downlink); err != nil {
			c.log.Info("media ended", "err", err)
		}
	}()

	cctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-c.end:
		case <-mediaDone:
		case <-cctx.Done():
		}
		cancel()
	}()
	if c.expires > 0 {
		go c.watchTimer(cctx, cancel)
	}
	err := c.dialogue(cctx)
	cancel()

	byPhone := false
	select {
	case <-c.end:
		byPhone = true
	default:
	}
	if !byPhone {
		c.bye(reasonOf(err))
	}
	stopMedia()
	<-mediaDone
	st := c.stream.Stats()
	c.log.Info("call ended", "by_phone", byPhone, "duration", time.Since(start).Round(time.Millisecond),
		"outcome", outcome(err), "rtp_sent", st.Sent, "rtp_received", st.Received, "concealed", st.Concealed)
}

func kindOf(w identity) string {
	if w.trunk {
		return "trunk"
	}
	return "desk phone"
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "left"
	case errors.Is(err, errWrongCode), errors.Is(err, errLimited):
		return "wrong code"
	case errors.Is(err, errTimeout):
		return "no code"
	case errors.Is(err, ErrRefused):
		return "refused"
	case errors.Is(err, ErrPhonesForbidden):
		return "phones forbidden"
	case errors.Is(err, ErrMeetingGone):
		return "meeting gone"
	case errors.Is(err, context.Canceled):
		return "ended"
	}
	return "error"
}

// reasonOf maps why we hang up to a Reason header (RFC 3326).
func reasonOf(err error) string {
	switch {
	case err == nil:
		return `SIP ;cause=200 ;text="Meeting left"`
	case errors.Is(err, errWrongCode):
		return `SIP ;cause=404 ;text="Wrong code"`
	case errors.Is(err, errLimited):
		return `SIP ;cause=429 ;text="Too many wrong codes"`
	case errors.Is(err, errTimeout):
		return `SIP ;cause=408 ;text="No code entered"`
	case errors.Is(err, ErrRefused):
		return `SIP ;cause=603 ;text="Not admitted"`
	case errors.Is(err, ErrPhonesForbidden):
		return `SIP ;cause=403 ;text="This meeting does not allow phones"`
	case errors.Is(err, ErrMeetingGone):
		return `SIP ;cause=410 ;text="Meeting ended"`
	}
	return `SIP ;cause=500 ;text="Gateway shutting down"`
}

func (c *call) bye(reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	inv := c.dtx.InviteRequest
	ct := inv.Contact()
	if ct == nil {
		return
	}
	req := sip.NewRequest(sip.BYE, ct.Address)
	req.SetTransport(inv.Transport())
	if c.transport != "udp" {
		// Reuse the phone's connection (RFC 3261, Section 18.2.2): its
		// Contact may name a port nobody listens on.
		req.SetDestination(inv.Source())
	}
	req.AppendHeader(sip.NewHeader("Reason", reason))
	if err := c.dtx.WriteBye(ctx, req); err != nil {
		c.log.Info("bye failed", "err", err)
	}
}

func (c *call) watchTimer(ctx context.Context, cancel context.CancelFunc) {
	t := time.NewTimer(c.expires)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.refreshed:
			t.Reset(c.expires)
		case <-t.C:
			// RFC 4028, Section 10: no refresh, the session is over.
			c.log.Info("session timer expired")
			cancel()
			return
		}
	}
}

// uplink gets the phone's audio every 20 ms.
func (c *call) uplink(pcm []int16) {
	c.mu.Lock()
	leg, muted := c.leg, c.muted
	c.mu.Unlock()
	if leg == nil {
		return // before admission nothing of the phone reaches anyone
	}
	if muted {
		_ = leg.Send(nil)
		return
	}
	_ = leg.Send(pcm)
}

// downlink fills the phone's next 20 ms.
func (c *call) downlink(pcm []int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mixer != nil {
		c.mixer.Tick(len(pcm))
	}
	switch {
	case c.fg != nil && !c.fg.Done():
		c.fg.Read(pcm)
	case c.leg != nil:
		c.mixer.MixFor("", pcm)
	case c.bg != nil:
		c.bg.Read(pcm)
	default:
		clear(pcm)
	}
}

func (c *call) play(p prompts.Prompt) {
	c.mu.Lock()
	c.fg = prompts.NewPlayer(p)
	c.mu.Unlock()
}

func (c *call) background(p prompts.Prompt) {
	c.mu.Lock()
	c.bg = prompts.NewPlayer(p)
	c.mu.Unlock()
}

// waitPrompt waits until the one-shot prompt has played.
func (c *call) waitPrompt(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		c.mu.Lock()
		done := c.fg == nil || c.fg.Done()
		c.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// dialogue is the caller's side of dial-in: code, lobby, meeting.
func (c *call) dialogue(ctx context.Context) error {
	room, err := c.enterCode(ctx)
	if err != nil {
		c.play(prompts.WrongCode)
		c.waitPrompt(ctx)
		return err
	}
	c.background(prompts.Waiting)
	c.log.Info("code accepted, knocking", "room", room)
	jctx, cancel := context.WithTimeout(ctx, c.g.cfg.LobbyTimeout)
	mixer := mix.New()
	leg, err := c.g.meetings.Join(jctx, room, c.caller, mixer)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, ErrPhonesForbidden) && !errors.Is(err, ErrMeetingGone) {
			err = fmt.Errorf("%w: %w", ErrRefused, err)
		}
		c.play(prompts.Refused)
		c.waitPrompt(ctx)
		return err
	}
	defer func() {
		// Detach before closing: the media goroutine must not send on a
		// closed leg.
		c.mu.Lock()
		c.leg = nil
		c.mu.Unlock()
		leg.Close()
	}()
	c.log.Info("admitted")
	c.mu.Lock()
	c.mixer, c.leg, c.bg = mixer, leg, nil
	c.fg = prompts.NewPlayer(prompts.Admitted)
	c.mu.Unlock()
	star := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-leg.Done():
			c.mu.Lock()
			c.leg = nil
			c.fg = prompts.NewPlayer(prompts.Refused)
			c.mu.Unlock()
			c.waitPrompt(ctx)
			return ErrMeetingGone
		case d := <-c.stream.Digits():
			// *6 toggles mute.
			if star && d == '6' {
				c.mu.Lock()
				c.muted = !c.muted
				if c.muted {
					c.fg = prompts.NewPlayer(prompts.Muted)
				} else {
					c.fg = prompts.NewPlayer(prompts.Unmuted)
				}
				c.mu.Unlock()
			}
			star = d == '*'
		}
	}
}

// enterCode collects digits until '#' (or CodeDigits digits), '*' starting
// over, checks the code against the limiter and the directory, and allows
// maxCodeAttempts tries.
func (c *call) enterCode(ctx context.Context) (dialin.Room, error) {
	c.background(prompts.EnterCode)
	deadline := time.NewTimer(c.g.cfg.CodeTimeout)
	defer deadline.Stop()
	attempts := 0
	var code []byte
	for {
		select {
		case <-ctx.Done():
			return dialin.Room{}, ctx.Err()
		case <-deadline.C:
			return dialin.Room{}, errTimeout
		case d := <-c.stream.Digits():
			switch {
			case d == '*':
				code = code[:0]
				continue
			case d >= '0' && d <= '9' && len(code) < dialin.CodeDigits:
				code = append(code, d)
				if len(code) < dialin.CodeDigits {
					continue
				}
			case d != '#':
				continue
			}
			if len(code) == 0 {
				continue
			}
			key := c.rateKey()
			if !c.g.limiter.Allow(key) {
				c.log.Info("wrong-code limit reached")
				return dialin.Room{}, errLimited
			}
			room, err := c.g.dir.Lookup(string(code))
			clear(code)
			code = code[:0]
			if err == nil {
				return room, nil
			}
			c.g.limiter.Fail(key)
			attempts++
			c.log.Info("wrong code", "attempt", attempts)
			if attempts >= maxCodeAttempts {
				return dialin.Room{}, errWrongCode
			}
			c.play(prompts.WrongCode)
		}
	}
}
