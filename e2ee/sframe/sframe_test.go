package sframe

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
)

var allSuites = []CipherSuite{AES128CTRHMACSHA256_80, AES128CTRHMACSHA256_64, AES128CTRHMACSHA256_32, AES128GCMSHA256_128, AES256GCMSHA512_128}

func testBaseKey(suite CipherSuite) []byte {
	k := make([]byte, suite.KeySize())
	for i := range k {
		k[i] = byte(i * 7)
	}
	return k
}

func newPair(t testing.TB, suite CipherSuite, kid KeyID, opts ...ReceiverOption) (*Sender, *Receiver) {
	t.Helper()
	s, err := NewSender(suite, kid, testBaseKey(suite))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReceiver(suite, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddKey(kid, testBaseKey(suite)); err != nil {
		t.Fatal(err)
	}
	return s, r
}

func TestRoundTripEverySuite(t *testing.T) {
	for _, suite := range allSuites {
		for _, size := range []int{0, 1, 15, 16, 17, 1000} {
			t.Run(fmt.Sprintf("%v/%dB", suite, size), func(t *testing.T) {
				s, r := newPair(t, suite, 1234)
				pt := bytes.Repeat([]byte{0x5a}, size)
				md := []byte("metadata")
				for i := range 3 {
					ct, err := s.Encrypt(nil, md, pt)
					if err != nil {
						t.Fatal(err)
					}
					h, n, err := ParseHeader(ct)
					if err != nil || h.KID != 1234 || h.CTR != Counter(i) {
						t.Fatalf("header %+v, %v; want kid 1234 ctr %d", h, err, i)
					}
					if len(ct) != n+size+suite.TagSize() {
						t.Fatalf("len %d, want %d", len(ct), n+size+suite.TagSize())
					}
					got, err := r.Decrypt(nil, md, ct)
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("Decrypt = %x, %v", got, err)
					}
				}
			})
		}
	}
}

// TestTamper flips every bit of a frame and changes the metadata: each must
// fail with ErrAuth (or ErrMalformedHeader / ErrUnknownKey for header bits),
// never succeed.
func TestTamper(t *testing.T) {
	for _, suite := range allSuites {
		t.Run(suite.String(), func(t *testing.T) {
			s, _ := newPair(t, suite, 9)
			md := []byte{1, 2, 3}
			ct, err := s.Encrypt(nil, md, []byte("hello, frame"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range len(ct) * 8 {
				_, r := newPair(t, suite, 9)
				bad := bytes.Clone(ct)
				bad[i/8] ^= 1 << (i % 8)
				_, err := r.Decrypt(nil, md, bad)
				if err == nil {
					t.Fatalf("bit %d flipped: accepted", i)
				}
				if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrMalformedHeader) && !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("bit %d flipped: %v", i, err)
				}
			}
			_, r := newPair(t, suite, 9)
			if _, err := r.Decrypt(nil, []byte{1, 2, 4}, ct); !errors.Is(err, ErrAuth) {
				t.Fatalf("changed metadata: %v, want ErrAuth", err)
			}
			if _, err := r.Decrypt(nil, md, ct[:len(ct)-1]); !errors.Is(err, ErrAuth) {
				t.Fatalf("truncated: %v, want ErrAuth", err)
			}
			// The failures above must not have consumed the counter.
			if _, err := r.Decrypt(nil, md, ct); err != nil {
				t.Fatalf("genuine frame after failures: %v", err)
			}
		})
	}
}

func TestDecryptErrors(t *testing.T) {
	s, r := newPair(t, AES128GCMSHA256_128, 3)
	ct, _ := s.Encrypt(nil, nil, []byte("x"))
	other, _ := NewSender(AES128GCMSHA256_128, 4, testBaseKey(AES128GCMSHA256_128))
	unknown, _ := other.Encrypt(nil, nil, []byte("x"))
	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, ErrMalformedHeader},
		{"truncated header", []byte{0x99, 0x01}, ErrMalformedHeader},
		{"no tag", ct[:1+5], ErrShortFrame},
		{"unknown kid", unknown, ErrUnknownKey},
		{"non-minimal kid", append([]byte{0x80, 0x03}, ct[1:]...), ErrMalformedHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Decrypt(nil, nil, tc.frame); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReplayWindow(t *testing.T) {
	s, r := newPair(t, AES128GCMSHA256_128, 1, WithReplayWindow(64), WithMaxCounterJump(1000))
	var frames [][]byte
	for range 200 {
		ct, err := s.Encrypt(nil, nil, []byte("f"))
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, ct)
	}
	mustOK := func(i int) {
		t.Helper()
		if _, err := r.Decrypt(nil, nil, frames[i]); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	mustFail := func(i int, want error) {
		t.Helper()
		if _, err := r.Decrypt(nil, nil, frames[i]); !errors.Is(err, want) {
			t.Fatalf("frame %d: %v, want %v", i, err, want)
		}
	}
	mustOK(10) // the first frame sets the window
	mustFail(10, ErrReplay)
	mustOK(5) // late but inside the window, once
	mustFail(5, ErrReplay)
	mustOK(100)
	mustFail(36, ErrReplay) // 64 behind 100: outside the window
	mustOK(37)              // 63 behind: inside
	mustOK(99)
	mustFail(99, ErrReplay)
	mustOK(199)
	mustFail(100, ErrReplay) // 99 behind 199: too old
	mustOK(136)              // 63 behind 199: inside, not seen
	mustFail(135, ErrReplay) // 64 behind: outside
}

func TestCounterRange(t *testing.T) {
	s, r := newPair(t, AES128GCMSHA256_128, 1, WithMaxCounterJump(1000))
	first, _ := s.Encrypt(nil, nil, []byte("a"))
	if _, err := r.Decrypt(nil, nil, first); err != nil {
		t.Fatal(err)
	}
	s.next = 1002 // 1002 - 0 > 1000
	far, _ := s.Encrypt(nil, nil, []byte("b"))
	if _, err := r.Decrypt(nil, nil, far); !errors.Is(err, ErrCounterRange) {
		t.Fatalf("far frame: %v, want ErrCounterRange", err)
	}
	s.next = 1000
	near, _ := s.Encrypt(nil, nil, []byte("c"))
	if _, err := r.Decrypt(nil, nil, near); err != nil {
		t.Fatalf("frame 1000 ahead: %v", err)
	}
}

func TestSenderCounterExhausted(t *testing.T) {
	s, r := newPair(t, AES128GCMSHA256_128, 1)
	s.next = math.MaxUint64 - 1
	for _, want := range []Counter{math.MaxUint64 - 1, math.MaxUint64} {
		ct, err := s.Encrypt(nil, nil, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		h, _, _ := ParseHeader(ct)
		if h.CTR != want {
			t.Fatalf("ctr %d, want %d", h.CTR, want)
		}
		if _, err := r.Decrypt(nil, nil, ct); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Encrypt(nil, nil, []byte("x")); !errors.Is(err, ErrCounterExhausted) {
		t.Fatalf("after the last counter: %v, want ErrCounterExhausted", err)
	}
}

// TestSenderConcurrentUniqueCounters: tracks sharing a Sender never share
// a counter.
func TestSenderConcurrentUniqueCounters(t *testing.T) {
	s, _ := newPair(t, AES128GCMSHA256_128, 77)
	const workers, each = 8, 200
	var mu sync.Mutex
	seen := make(map[Counter]bool)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			buf := make([]byte, 0, 64)
			for range each {
				ct, err := s.Encrypt(buf[:0], nil, []byte("frame"))
				if err != nil {
					t.Error(err)
					return
				}
				h, _, _ := ParseHeader(ct)
				mu.Lock()
				if seen[h.CTR] {
					t.Errorf("counter %d used twice", h.CTR)
				}
				seen[h.CTR] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Fatalf("%d distinct counters, want %d", len(seen), workers*each)
	}
}

func TestBuffers(t *testing.T) {
	s, r := newPair(t, AES128GCMSHA256_128, 5)
	pt := []byte("in place please")
	buf := make([]byte, 0, 128)
	buf = append(buf, pt...)
	if _, err := s.Encrypt(buf[:0], nil, buf[:len(pt)]); !errors.Is(err, ErrBufferOverlap) {
		t.Fatalf("overlapping encrypt: %v, want ErrBufferOverlap", err)
	}
	ct, err := s.Encrypt(nil, nil, pt)
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := ParseHeader(ct)
	frame := bytes.Clone(ct)
	out, err := r.Decrypt(frame[:n], nil, frame) // in place
	if err != nil || !bytes.Equal(out[n:], pt) {
		t.Fatalf("in-place decrypt = %q, %v", out, err)
	}
	frame = bytes.Clone(ct)
	_, r2 := newPair(t, AES128GCMSHA256_128, 5)
	if _, err := r2.Decrypt(frame[:0], nil, frame); !errors.Is(err, ErrBufferOverlap) {
		t.Fatalf("inexact overlap: %v, want ErrBufferOverlap", err)
	}
	// Appending keeps the existing dst bytes.
	ct2, _ := s.Encrypt([]byte("prefix"), nil, pt)
	if !bytes.HasPrefix(ct2, []byte("prefix")) {
		t.Fatalf("Encrypt dropped dst's bytes: %q", ct2)
	}
}

func TestZeroAllocs(t *testing.T) {
	for _, suite := range allSuites {
		t.Run(suite.String(), func(t *testing.T) {
			s, r := newPair(t, suite, 42)
			pt := make([]byte, 1024)
			md := make([]byte, 10)
			ctBuf := make([]byte, 0, 2048)
			ptBuf := make([]byte, 0, 2048)
			var ct []byte
			if a := testing.AllocsPerRun(100, func() {
				var err error
				if ct, err = s.Encrypt(ctBuf[:0], md, pt); err != nil {
					t.Fatal(err)
				}
				if _, err := r.Decrypt(ptBuf[:0], md, ct); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Fatalf("%v allocations per encrypt+decrypt, want 0", a)
			}
		})
	}
}

func TestReceiverKeys(t *testing.T) {
	s, r := newPair(t, AES128GCMSHA256_128, 8)
	ct, _ := s.Encrypt(nil, nil, []byte("x"))
	r.RemoveKey(8)
	if _, err := r.Decrypt(nil, nil, ct); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("removed key: %v", err)
	}
	small, err := NewReceiver(AES128GCMSHA256_128, WithMaxKeys(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := small.AddKey(1, testBaseKey(AES128GCMSHA256_128)); err != nil {
		t.Fatal(err)
	}
	if err := small.AddKey(2, testBaseKey(AES128GCMSHA256_128)); !errors.Is(err, ErrTooManyKeys) {
		t.Fatalf("second key: %v, want ErrTooManyKeys", err)
	}
	if err := small.AddKey(1, []byte{}); !errors.Is(err, ErrBadKey) {
		t.Fatalf("empty base key: %v, want ErrBadKey", err)
	}
	if _, err := NewReceiver(CipherSuite(9)); !errors.Is(err, ErrUnsupportedSuite) {
		t.Fatalf("suite 9: %v", err)
	}
	if _, err := NewSender(AES128GCMSHA256_128, 1, nil); !errors.Is(err, ErrBadKey) {
		t.Fatalf("nil base key: %v", err)
	}
	for _, o := range []ReceiverOption{WithReplayWindow(100), WithReplayWindow(0), WithMaxCounterJump(0), WithMaxKeys(0)} {
		if _, err := NewReceiver(AES128GCMSHA256_128, o); err == nil {
			t.Fatal("bad option accepted")
		}
	}
}

// TestNoKeysInStrings: formatting or logging a Sender or Receiver shows no
// key or salt bytes.
func TestNoKeysInStrings(t *testing.T) {
	s, r := newPair(t, AES128GCMSHA256_128, 12)
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	log.Info("x", "sender", s, "receiver", r)
	salt := s.key.salt[:]
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v", s, r), logged.String()} {
		if strings.Contains(out, fmt.Sprintf("%x", salt)) || strings.Contains(out, fmt.Sprint(salt)) || !strings.Contains(out, "12") && !strings.Contains(out, "keys") {
			t.Fatalf("formatted output leaks or lacks fields: %s", out)
		}
	}
}
