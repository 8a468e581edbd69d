//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall/js"
	"time"

	"conclave/e2ee/session"
	"conclave/internal/jsfunc"
)

// registry holds the open sessions by handle. It is owned by main and used
// only from the JavaScript event loop (one goroutine).
type registry struct {
	next     int
	sessions map[int]*session.Session
}

func (r *registry) add(s *session.Session) int {
	r.next++
	r.sessions[r.next] = s
	return r.next
}

func (r *registry) get(h js.Value) (*session.Session, error) {
	if h.Type() != js.TypeNumber {
		return nil, errors.New("session wasm: handle is not a number")
	}
	s, ok := r.sessions[h.Int()]
	if !ok {
		return nil, errors.New("session wasm: unknown session handle")
	}
	return s, nil
}

func bytesOf(v js.Value) []byte {
	if v.Type() != js.TypeObject || !v.InstanceOf(js.Global().Get("Uint8Array")) {
		return nil
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

func jsBytes(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

func str(v js.Value, name string) string {
	f := v.Get(name)
	if f.Type() != js.TypeString {
		return ""
	}
	return f.String()
}

func timeOf(v js.Value) (time.Time, error) {
	if v.Type() != js.TypeNumber {
		return time.Time{}, errors.New("session wasm: time is not a number of milliseconds")
	}
	return time.UnixMilli(int64(v.Float())), nil
}

var kinds = map[string]session.Kind{"browser": session.KindBrowser, "bot": session.KindBot, "phone": session.KindPhone}

func kindName(k session.Kind) string {
	for n, v := range kinds {
		if v == k {
			return n
		}
	}
	return "unknown"
}

// config reads {participant, displayName, kind, detail, roomId, secret,
// forbidPhones, log}. forbidPhones (a boolean) applies only if this member
// creates the meeting's group (session.Config.ForbidPhones).
func config(v js.Value) (session.Config, error) {
	if v.Type() != js.TypeObject {
		return session.Config{}, errors.New("session wasm: config is not an object")
	}
	k, ok := kinds[str(v, "kind")]
	if !ok {
		return session.Config{}, fmt.Errorf("session wasm: unknown kind %q", str(v, "kind"))
	}
	cfg := session.Config{
		Identity: session.Identity{Participant: str(v, "participant"), DisplayName: str(v, "displayName"), Kind: k, Detail: str(v, "detail")},
		RoomID:   str(v, "roomId"),
	}
	switch fp := v.Get("forbidPhones"); fp.Type() {
	case js.TypeBoolean:
		cfg.ForbidPhones = fp.Bool()
	case js.TypeUndefined, js.TypeNull:
	default:
		return session.Config{}, errors.New("session wasm: forbidPhones is not a boolean")
	}
	if s := v.Get("secret"); !s.IsNull() && !s.IsUndefined() {
		cfg.LinkSecret = bytesOf(s)
		if len(cfg.LinkSecret) != session.LinkSecretSize {
			return session.Config{}, fmt.Errorf("session wasm: link secret must be %d bytes", session.LinkSecretSize)
		}
	}
	if v.Get("log").Truthy() {
		// Protocol-level logs only (epochs, sizes, decisions): the session
		// never logs keys, secrets or content. os.Stderr is the console.
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return cfg, nil
}

func member(m session.Member) map[string]any {
	return map[string]any{
		"leaf": m.Leaf, "participant": m.Identity.Participant, "displayName": m.Identity.DisplayName,
		"kind": kindName(m.Identity.Kind), "detail": m.Identity.Detail, "self": m.Self,
	}
}

// event turns a session event into a plain object.
func event(ev session.Event) map[string]any {
	switch e := ev.(type) {
	case session.EpochChanged:
		o := map[string]any{"type": "epoch", "epoch": float64(e.Epoch), "securityCode": e.SecurityCode, "leaf": e.Leaf, "canSend": e.Sender != nil}
		if e.MediaBaseKey != nil {
			o["baseKey"] = jsBytes(e.MediaBaseKey)
			clear(e.MediaBaseKey)
		}
		return o
	case session.RosterChanged:
		ms := make([]any, len(e.Members))
		for i, m := range e.Members {
			ms[i] = member(m)
		}
		return map[string]any{"type": "roster", "members": ms}
	case session.LobbyChanged:
		ws := make([]any, len(e.Waiting))
		for i, w := range e.Waiting {
			ws[i] = map[string]any{
				"ref": jsBytes(w.Ref), "participant": w.Participant, "displayName": w.Identity.DisplayName,
				"kind": kindName(w.Identity.Kind), "detail": w.Identity.Detail, "badProof": w.BadProof,
			}
		}
		return map[string]any{"type": "lobby", "waiting": ws}
	case session.LobbyStatus:
		return map[string]any{"type": "lobbyStatus", "waiting": e.Waiting, "refused": e.Refused, "admitted": e.Admitted, "reason": e.Reason}
	case session.ChatReceived:
		return map[string]any{"type": "chat", "from": member(e.From), "epoch": float64(e.Epoch), "late": e.Late, "text": e.Text}
	case session.StatusReceived:
		return map[string]any{"type": "status", "from": member(e.From), "epoch": float64(e.Epoch), "kind": string(e.Kind), "on": e.On}
	case session.Rejected:
		msg := ""
		if e.Err != nil {
			msg = e.Err.Error()
		}
		return map[string]any{"type": "rejected", "what": e.What, "error": msg}
	case session.Removed:
		return map[string]any{"type": "removed"}
	case session.ServerError:
		return map[string]any{"type": "serverError", "code": e.Code, "text": e.Text}
	case session.TokenRefreshed:
		// The page reconnects /e2ee with it; a credential, never logged.
		return map[string]any{"type": "token", "token": e.Token}
	default:
		return map[string]any{"type": "unknown"}
	}
}

// output turns an Output (and the call's error, if any) into
// {send, events, error?}.
func output(o session.Output, err error) map[string]any {
	send := make([]any, len(o.Send))
	for i, b := range o.Send {
		send[i] = jsBytes(b)
	}
	evs := make([]any, len(o.Events))
	for i, e := range o.Events {
		evs[i] = event(e)
	}
	res := map[string]any{"send": send, "events": evs}
	if err != nil {
		res["error"] = err.Error()
	}
	return res
}

func main() {
	r := &registry{sessions: map[int]*session.Session{}}
	withSession := func(f func(s *session.Session, a []js.Value) (any, error)) js.Func {
		return jsfunc.Wrap("session wasm", func(a []js.Value) (any, error) {
			s, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			return f(s, a)
		})
	}
	api := map[string]any{
		"create": jsfunc.Wrap("session wasm", func(a []js.Value) (any, error) {
			cfg, err := config(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			s, err := session.New(cfg)
			if err != nil {
				return nil, err
			}
			return r.add(s), nil
		}),
		"restore": jsfunc.Wrap("session wasm", func(a []js.Value) (any, error) {
			cfg, err := config(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			now, err := timeOf(jsfunc.Arg(a, 2))
			if err != nil {
				return nil, err
			}
			s, err := session.Restore(cfg, bytesOf(jsfunc.Arg(a, 1)), now)
			if err != nil {
				return nil, err
			}
			return r.add(s), nil
		}),
		"start": withSession(func(s *session.Session, a []js.Value) (any, error) {
			now, err := timeOf(jsfunc.Arg(a, 1))
			if err != nil {
				return nil, err
			}
			return output(s.Start(now), nil), nil
		}),
		"handle": withSession(func(s *session.Session, a []js.Value) (any, error) {
			now, err := timeOf(jsfunc.Arg(a, 2))
			if err != nil {
				return nil, err
			}
			return output(s.Handle(bytesOf(jsfunc.Arg(a, 1)), now)), nil
		}),
		"tick": withSession(func(s *session.Session, a []js.Value) (any, error) {
			now, err := timeOf(jsfunc.Arg(a, 1))
			if err != nil {
				return nil, err
			}
			return output(s.Tick(now), nil), nil
		}),
		"deadline": withSession(func(s *session.Session, _ []js.Value) (any, error) {
			d := s.Deadline()
			if d.IsZero() {
				return 0, nil
			}
			return float64(d.UnixMilli()), nil
		}),
		"admit": withSession(func(s *session.Session, a []js.Value) (any, error) {
			now, err := timeOf(jsfunc.Arg(a, 2))
			if err != nil {
				return nil, err
			}
			return output(s.Admit(bytesOf(jsfunc.Arg(a, 1)), now)), nil
		}),
		"refuse": withSession(func(s *session.Session, a []js.Value) (any, error) {
			return output(s.Refuse(bytesOf(jsfunc.Arg(a, 1)))), nil
		}),
		"sendChat": withSession(func(s *session.Session, a []js.Value) (any, error) {
			if jsfunc.Arg(a, 1).Type() != js.TypeString {
				return nil, errors.New("session wasm: chat text is not a string")
			}
			return output(s.SendChat(jsfunc.Arg(a, 1).String())), nil
		}),
		"sendStatus": withSession(func(s *session.Session, a []js.Value) (any, error) {
			if jsfunc.Arg(a, 1).Type() != js.TypeString || jsfunc.Arg(a, 2).Type() != js.TypeBoolean {
				return nil, errors.New("session wasm: sendStatus(handle, kind string, on boolean)")
			}
			return output(s.SendStatus(session.StatusKind(jsfunc.Arg(a, 1).String()), jsfunc.Arg(a, 2).Bool())), nil
		}),
		"phonesForbidden": withSession(func(s *session.Session, _ []js.Value) (any, error) {
			return s.PhonesForbidden(), nil
		}),
		"save": withSession(func(s *session.Session, _ []js.Value) (any, error) {
			b, err := s.MarshalBinary()
			if err != nil {
				return nil, err
			}
			defer clear(b)
			return jsBytes(b), nil
		}),
		"close": jsfunc.Wrap("session wasm", func(a []js.Value) (any, error) {
			if jsfunc.Arg(a, 0).Type() == js.TypeNumber {
				delete(r.sessions, jsfunc.Arg(a, 0).Int())
			}
			return nil, nil
		}),
	}
	js.Global().Set("conclaveSession", js.ValueOf(api))
	select {} // serve calls from JavaScript until the page goes away
}
