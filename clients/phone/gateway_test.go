package phone

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"conclave/clients/phone/dialin"
	"conclave/clients/phone/mix"
	sipauth "conclave/clients/phone/sip"
)

// fakeMeetings stands in for the E2EE meeting: it admits (after a delay)
// or refuses, plays a tone as a member would, and keeps what the phone
// sent.
type fakeMeetings struct {
	admitAfter time.Duration
	refuse     error
	toneHz     float64

	mu     sync.Mutex
	joined []Caller
	heard  []int16
	legs   []*fakeLeg
}

type fakeLeg struct {
	m      *fakeMeetings
	done   chan struct{}
	once   sync.Once
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (f *fakeMeetings) Join(ctx context.Context, room dialin.Room, caller Caller, sink *mix.Mixer) (Leg, error) {
	f.mu.Lock()
	f.joined = append(f.joined, caller)
	f.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(f.admitAfter):
	}
	if f.refuse != nil {
		return nil, f.refuse
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &fakeLeg{m: f, done: make(chan struct{}), cancel: cancel}
	l.wg.Add(1)
	go func() {
		// A member speaking: 20 ms frames of a tone into the mix.
		defer l.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		n := 0
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				frame := make([]int16, 960)
				for i := range frame {
					frame[i] = int16(8000 * math.Sin(2*math.Pi*f.toneHz*float64(n)/48000))
					n++
				}
				sink.Write("bot", frame)
			}
		}
	}()
	f.mu.Lock()
	f.legs = append(f.legs, l)
	f.mu.Unlock()
	return l, nil
}

func (f *fakeMeetings) phoneAudio() []int16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int16(nil), f.heard...)
}

func (f *fakeMeetings) leg(i int) *fakeLeg {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i < len(f.legs) {
		return f.legs[i]
	}
	return nil
}

func (l *fakeLeg) Send(pcm []int16) error {
	if pcm == nil {
		return nil
	}
	l.m.mu.Lock()
	l.m.heard = append(l.m.heard, pcm...)
	l.m.mu.Unlock()
	return nil
}
func (l *fakeLeg) Done() <-chan struct{} { return l.done }
func (l *fakeLeg) end()                  { l.once.Do(func() { close(l.done) }) }
func (l *fakeLeg) Close()                { l.cancel(); l.wg.Wait(); l.end() }

type testGateway struct {
	g      *Gateway
	code   string
	phones *sipauth.Phones
	key    []byte
	cancel context.CancelFunc
	done   chan error
}

func startGateway(t *testing.T, cfg Config, m Meetings, users ...string) *testGateway {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	dir, err := dialin.NewDirectory(key, "")
	if err != nil {
		t.Fatal(err)
	}
	code, err := dir.Assign(dialin.Room{Server: "https://meet.example", ID: "ROOMROOMROOM"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	phones, _ := sipauth.LoadPhones("")
	for _, u := range users {
		if _, err := phones.Add(u); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.UDP == "" && cfg.TCP == "" && cfg.TLS == "" {
		cfg.UDP, cfg.TCP = "127.0.0.1:0", "127.0.0.1:0"
		cfg.CertFile, cfg.KeyFile = selfSigned(t)
		cfg.TLS = "127.0.0.1:0"
	}
	cfg.MediaIP = "127.0.0.1"
	if cfg.Name == "" {
		cfg.Name = "test-gw"
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g, err := New(Options{Config: cfg, Logger: log, Meetings: m, Directory: dir, Phones: phones, GatewayKey: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tg := &testGateway{g: g, code: code, phones: phones, key: key, cancel: cancel, done: make(chan error, 1)}
	go func() { tg.done <- g.Serve(ctx) }()
	select {
	case <-g.Ready():
	case err := <-tg.done:
		t.Fatalf("gateway: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("gateway not ready")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-tg.done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	return tg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Logf("%s", b); return len(b), nil }

func (tg *testGateway) password(user string) string {
	ph, _ := tg.phones.Get(user)
	return sipauth.DeriveKeys(tg.key).Password(user, ph.Generation)
}

// waitFor polls cond until it holds or the deadline passes; the message
// says what was awaited.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var errForbidden = ErrPhonesForbidden

var _ = errors.Is
