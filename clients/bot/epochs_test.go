package bot

import (
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"conclave/e2ee/session"
	"conclave/e2ee/sframe"
)

// TestEpochHistory checks what an MLS member records of its epochs for the
// key-rotation figures: each epoch once (an attested joiner is told its
// epoch again), the roster of each, and the first frame decrypted under
// each, found from the low epoch bits of the frame's KID (RFC 9605,
// Section 5.2).
func TestEpochHistory(t *testing.T) {
	const suite = sframe.AES128GCMSHA256_128
	layout := sframe.DefaultKIDLayout
	rcv, err := sframe.NewMLSReceiver(suite, layout, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	e := &E2EE{
		log: slog.New(slog.DiscardHandler), receiver: rcv, epochAt: map[uint64]time.Time{},
		byLow: make([]atomic.Uint64, 1<<layout.EpochBits),
	}
	e.code.Store("")
	roster := func(ids ...string) session.RosterChanged {
		var ms []session.Member
		for _, id := range ids {
			ms = append(ms, session.Member{Identity: session.Identity{Participant: id}})
		}
		return session.RosterChanged{Members: ms}
	}
	enter := func(epoch uint64, evs ...session.Event) {
		t.Helper()
		if err := rcv.AddEpoch(epoch, epochExporter(epoch), time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := e.apply(session.Output{Events: append([]session.Event{session.EpochChanged{Epoch: epoch}}, evs...)}); err != nil {
			t.Fatal(err)
		}
	}
	open := func(epoch uint64, seq uint32) {
		t.Helper()
		snd, err := sframe.NewMLSSender(suite, layout, epochExporter(epoch), epoch, 2, 0)
		if err != nil {
			t.Fatal(err)
		}
		wire, err := NewSFrameCipher(snd, nil).Seal(nil, KindVideo, buildVideoFrame(nil, 300, 320, 180, Payload{Kind: KindVideo, Seq: seq}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Open(nil, KindVideo, wire); err != nil {
			t.Fatalf("open a frame of epoch %d: %v", epoch, err)
		}
	}

	enter(17, roster("a", "x"))
	// Attested: the same epoch again, with no roster.
	if err := e.apply(session.Output{Events: []session.Event{session.EpochChanged{Epoch: 17}}}); err != nil {
		t.Fatal(err)
	}
	enter(18, roster("a"))
	enter(19, roster("a", "y"))
	// Epoch 18 (low bits 2) sees no frame; 19 gets one before the
	// senders of 17 (low bits 1) finish.
	open(19, 1)
	before19 := time.Now()
	open(17, 1)

	h := e.EpochHistory()
	if got := len(h); got != 3 {
		t.Fatalf("%d epochs recorded, want 3: %+v", got, h)
	}
	want := []struct {
		epoch   uint64
		members []string
		opened  bool
	}{{17, []string{"a", "x"}, true}, {18, []string{"a"}, false}, {19, []string{"a", "y"}, true}}
	for i, w := range want {
		r := h[i]
		if r.Epoch != w.epoch || !slices.Equal(r.Members, w.members) || r.FirstOpen.IsZero() == w.opened || r.Entered.IsZero() {
			t.Errorf("epoch record %d = %+v, want epoch %d members %v opened %v", i, r, w.epoch, w.members, w.opened)
		}
	}
	if h[2].FirstOpen.After(before19) || h[0].FirstOpen.Before(h[2].FirstOpen) {
		t.Errorf("first frames: epoch 17 at %v, epoch 19 at %v; want 19's first", h[0].FirstOpen, h[2].FirstOpen)
	}
}
