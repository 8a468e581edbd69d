package bot

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"conclave/e2ee/session"
)

// MemberIdentity is what a bot's MLS credential says it is beyond its name
// (docs/e2ee-protocol.md, "Identity"): every client shows the kind beside
// the name (DESIGN.md P4). The zero value is a bot.
type MemberIdentity struct {
	// Kind is the member's kind; zero means session.KindBot. A phone
	// gateway uses session.KindPhone.
	Kind session.Kind
	// Detail is kind-specific: for a phone gateway, which phone it carries
	// and through which gateway.
	Detail string
}

func (m MemberIdentity) kind() session.Kind {
	if m.Kind == 0 {
		return session.KindBot
	}
	return m.Kind
}

// AudioSource supplies the Opus frame the bot sends in place of its
// synthetic one, once every 20 ms. A nil frame means muted: nothing is sent
// for that interval. The bot encrypts a copy; the source may reuse its
// buffer after the call returns. It must not block.
type AudioSource func() []byte

// AudioFrame is one decrypted audio frame of another member.
type AudioFrame struct {
	// From is the sender's participant identity (the access token's
	// identity, which its MLS credential also states).
	From string
	// Opus is the decrypted Opus frame; it is valid only during the
	// AudioSink call.
	Opus []byte
}

// AudioSink receives every decrypted audio frame that is not a bot's test
// payload (real Opus from a browser or a phone gateway), in arrival order
// per sender. It is called from the track's reader and must not block.
type AudioSink func(AudioFrame)

// PhoneMember is a phone gateway member in the meeting's MLS roster: while
// one is there, every client shows that audio is not end-to-end encrypted
// beyond the gateway (DESIGN.md P4).
type PhoneMember struct {
	Participant string `json:"participant"`
	Name        string `json:"name"`
	Detail      string `json:"detail"`
}

// phoneMembers lists the roster's phone gateways.
func phoneMembers(roster []session.Member) []PhoneMember {
	var out []PhoneMember
	for _, m := range roster {
		if m.Identity.Kind == session.KindPhone {
			out = append(out, PhoneMember{Participant: m.Identity.Participant, Name: m.Identity.DisplayName, Detail: m.Identity.Detail})
		}
	}
	return out
}

// PhoneMembers returns the phone gateways among the group's members.
func (e *E2EE) PhoneMembers() []PhoneMember { return phoneMembers(e.Roster()) }

// JoinRoom joins the meeting roomID on the server at base without the link
// secret: the bot knocks and waits in the lobby until a member admits it,
// as a phone gateway does (it only knows the room from the dial-in code).
// It returns once admitted (bounded by ctx); a phone gateway member
// (cfg.Member.Kind session.KindPhone) refuses a meeting that forbids phones
// with session.ErrPhonesForbidden.
func JoinRoom(ctx context.Context, base *url.URL, roomID string, cfg Config) (*Bot, error) {
	start := time.Now()
	if base == nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%w: server is not an http(s) origin", ErrBadLink)
	}
	if cfg.Cipher != nil {
		return nil, fmt.Errorf("bot: JoinRoom keys from the MLS group; Cipher must be nil")
	}
	l := Link{Base: &url.URL{Scheme: base.Scheme, Host: base.Host}, RoomID: roomID}
	setupCtx, cancel := context.WithTimeout(ctx, cfg.connectTimeout())
	defer cancel()
	kind := "bot"
	if cfg.Member.kind() == session.KindPhone {
		kind = "phone"
	}
	creds, err := RequestJoin(setupCtx, cfg.HTTPClient, l.Base, l.RoomID, cfg.Name, kind)
	if err != nil {
		return nil, err
	}
	e, err := DialE2EE(ctx, creds.URL, creds.Token, E2EEConfig{
		RoomID: l.RoomID, Participant: creds.Identity, Name: cfg.Name, AdmitAll: cfg.E2EE.AdmitAll,
		Member: cfg.Member, Dialer: cfg.Dialer, Logger: cfg.Logger, Timing: cfg.E2EE.Timing,
	})
	if err != nil {
		return nil, err
	}
	if err := e.WaitJoined(ctx); err != nil {
		e.Close()
		return nil, err
	}
	// A phone gateway checks the group context right after its Welcome
	// and leaves a meeting that forbids phones before any media flows
	// (the members' clients should not have admitted it).
	if cfg.Member.kind() == session.KindPhone && e.PhonesForbidden() {
		e.Close()
		return nil, fmt.Errorf("bot: %w", session.ErrPhonesForbidden)
	}
	return startWithE2EE(ctx, creds, cfg, e, start)
}

// PhonesForbidden reports whether the meeting's group context forbids
// phone gateways (session.ExtensionPhonesForbidden).
func (e *E2EE) PhonesForbidden() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.s.PhonesForbidden()
}

// deliverAudio hands a decrypted audio frame to the sink under its sender's
// participant identity (the SFU names the track's owner by SID).
func (b *Bot) deliverAudio(participantSID string, frame []byte) {
	b.mu.Lock()
	from := b.sidIdentity[participantSID]
	b.mu.Unlock()
	if from == "" {
		from = participantSID
	}
	b.cfg.AudioSink(AudioFrame{From: from, Opus: frame})
}
