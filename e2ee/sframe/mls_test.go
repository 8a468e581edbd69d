package sframe

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// fakeExporter stands in for an MLS epoch's exporter: its output depends on
// the epoch, the label, the context and the length.
type fakeExporter struct{ epoch uint64 }

func (f fakeExporter) Export(label string, context []byte, length int) ([]byte, error) {
	out := make([]byte, length)
	seed := fmt.Sprintf("%d|%s|%x", f.epoch, label, context)
	for i := range out {
		out[i] = seed[i%len(seed)] ^ byte(i)
	}
	return out, nil
}

type failingExporter struct{}

func (failingExporter) Export(string, []byte, int) ([]byte, error) {
	return nil, errors.New("no exporter")
}

func TestKIDLayout(t *testing.T) {
	// The example of RFC 9605, Section 5.2, Figure 7: E=4, S=6.
	l := KIDLayout{EpochBits: 4, IndexBits: 6}
	tests := []struct {
		epoch   uint64
		index   uint32
		context uint64
		want    KeyID
	}{
		{14, 3, 0, 0x3e}, {14, 7, 0, 0x7e}, {14, 20, 0, 0x14e},
		{15, 3, 0, 0x3f}, {15, 5, 0, 0x5f},
		{16, 2, 2, 0x820}, {16, 2, 3, 0xc20},
		{17, 33, 0, 0x211}, {17, 51, 0, 0x331},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("epoch=%d/index=%d/context=%d", tc.epoch, tc.index, tc.context), func(t *testing.T) {
			kid, err := l.KID(tc.context, tc.index, tc.epoch)
			if err != nil || kid != tc.want {
				t.Fatalf("KID = %#x, %v; want %#x", kid, err, tc.want)
			}
			c, i, e := l.Split(kid)
			if c != tc.context || i != tc.index || e != tc.epoch%16 {
				t.Fatalf("Split = %d, %d, %d", c, i, e)
			}
		})
	}
	if _, err := l.KID(0, 64, 1); !errors.Is(err, ErrBadLayout) {
		t.Fatalf("index 64 in 6 bits: %v", err)
	}
	if _, err := l.KID(1<<54, 0, 1); !errors.Is(err, ErrBadLayout) {
		t.Fatalf("context too wide: %v", err)
	}
	for _, bad := range []KIDLayout{{0, 6}, {17, 6}, {4, 0}, {4, 33}} {
		if err := bad.Validate(); !errors.Is(err, ErrBadLayout) {
			t.Fatalf("layout %+v accepted", bad)
		}
	}
	for n, want := range map[int]uint8{1: 0, 2: 1, 3: 2, 64: 6, 65: 7, 1000: 10} {
		if got := IndexBitsFor(n); got != want {
			t.Fatalf("IndexBitsFor(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestMLSBaseKey(t *testing.T) {
	for _, suite := range allSuites {
		k, err := MLSBaseKey(suite, fakeExporter{7})
		if err != nil || len(k) != suite.KeySize() {
			t.Fatalf("%v: %x, %v", suite, k, err)
		}
		want, _ := fakeExporter{7}.Export("SFrame 1.0 Base Key", nil, suite.KeySize())
		if !bytes.Equal(k, want) {
			t.Fatalf("%v: base key is not MLS-Exporter(\"SFrame 1.0 Base Key\", \"\", Nk)", suite)
		}
	}
	if _, err := MLSBaseKey(AES128GCMSHA256_128, failingExporter{}); err == nil {
		t.Fatal("exporter error swallowed")
	}
}

func TestMLSReceiverEpochs(t *testing.T) {
	suite := AES128GCMSHA256_128
	layout := KIDLayout{EpochBits: 2, IndexBits: 4}
	grace := 5 * time.Second
	t0 := time.Unix(1000, 0)
	r, err := NewMLSReceiver(suite, layout, grace)
	if err != nil {
		t.Fatal(err)
	}
	sender := func(epoch uint64, index uint32) *Sender {
		s, err := NewMLSSender(suite, layout, fakeExporter{epoch}, epoch, index, 0)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	frame := func(s *Sender) []byte {
		ct, err := s.Encrypt(nil, []byte("md"), []byte("media"))
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	decrypt := func(ct []byte) error {
		pt, err := r.Decrypt(nil, []byte("md"), ct)
		if err == nil && string(pt) != "media" {
			t.Fatalf("plaintext %q", pt)
		}
		return err
	}

	if err := r.AddEpoch(1, fakeExporter{1}, t0); err != nil {
		t.Fatal(err)
	}
	a1, b1 := sender(1, 3), sender(1, 9)
	if a1.KID() == b1.KID() {
		t.Fatal("two members share a KID")
	}
	if err := decrypt(frame(a1)); err != nil {
		t.Fatal(err)
	}
	if err := decrypt(frame(b1)); err != nil {
		t.Fatal(err)
	}
	// A frame of epoch 2 before the receiver has it: unknown key.
	if err := decrypt(frame(sender(2, 3))); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("epoch 2 before AddEpoch: %v", err)
	}
	if err := r.AddEpoch(2, fakeExporter{2}, t0); err != nil {
		t.Fatal(err)
	}
	if err := decrypt(frame(sender(2, 3))); err != nil {
		t.Fatal(err)
	}
	// Epoch 1 still decrypts in its grace period, and not after.
	if err := decrypt(frame(a1)); err != nil {
		t.Fatalf("epoch 1 in grace: %v", err)
	}
	r.Expire(t0.Add(grace - time.Nanosecond))
	if err := decrypt(frame(b1)); err != nil {
		t.Fatalf("epoch 1 just before the end of grace: %v", err)
	}
	r.Expire(t0.Add(grace))
	if err := decrypt(frame(a1)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("epoch 1 after grace: %v, want ErrUnknownKey", err)
	}
	if got := r.Epochs(); !slices.Equal(got, []uint64{2}) {
		t.Fatalf("epochs %v, want [2]", got)
	}
	// Epoch 6 has the same low 2 bits as epoch 2: it evicts it at once.
	if err := r.AddEpoch(6, fakeExporter{6}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := decrypt(frame(sender(2, 4))); !errors.Is(err, ErrAuth) {
		// KID of epoch 2 now maps to epoch 6's base key: the tag fails.
		t.Fatalf("epoch 2 after epoch 6 arrived: %v, want ErrAuth", err)
	}
	if err := decrypt(frame(sender(6, 4))); err != nil {
		t.Fatal(err)
	}
	if err := r.AddEpoch(5, fakeExporter{5}, t0); err == nil {
		t.Fatal("an older epoch was accepted")
	}
	if _, err := NewMLSReceiver(suite, KIDLayout{}, grace); !errors.Is(err, ErrBadLayout) {
		t.Fatalf("zero layout: %v", err)
	}
}

// TestMLSReceiverReplayAcrossCache: the lazily derived key keeps its replay
// window between frames.
func TestMLSReceiverReplayAcrossCache(t *testing.T) {
	r, _ := NewMLSReceiver(AES128GCMSHA256_128, DefaultKIDLayout, time.Second)
	if err := r.AddEpoch(3, fakeExporter{3}, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	s, _ := NewMLSSender(AES128GCMSHA256_128, DefaultKIDLayout, fakeExporter{3}, 3, 17, 0)
	ct, _ := s.Encrypt(nil, nil, []byte("x"))
	if _, err := r.Decrypt(nil, nil, ct); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Decrypt(nil, nil, ct); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
}
