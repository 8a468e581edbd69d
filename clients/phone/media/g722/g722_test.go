package g722

import (
	"fmt"
	"math"
	"testing"
)

func sine(n int, freq, amp float64) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/16000))
	}
	return pcm
}

// snr compares in with out delayed by the codec's delay (the two QMFs,
// 2×23 samples at 16 kHz minus alignment), searching a small window.
func snr(in, out []int16) (best float64, lag int) {
	best = math.Inf(-1)
	for l := 0; l < 64; l++ {
		var sig, noise float64
		for i := 1000; i+l < len(out) && i < len(in)-100; i++ {
			x := float64(in[i])
			e := x - float64(out[i+l])
			sig += x * x
			noise += e * e
		}
		if s := 10 * math.Log10(sig/noise); s > best {
			best, lag = s, l
		}
	}
	return best, lag
}

func TestRoundTripSNR(t *testing.T) {
	for _, tc := range []struct {
		freq, amp float64
		min       float64
	}{
		{300, 8000, 50},
		{1000, 8000, 40},
		{1000, 20000, 40},
		{3000, 8000, 35},
		{5000, 8000, 18}, // upper sub-band: 2 bits per sample
		{1000, 500, 30},
	} {
		t.Run(fmt.Sprintf("%.0fHz/amp%.0f", tc.freq, tc.amp), func(t *testing.T) {
			in := sine(16000, tc.freq, tc.amp)
			codes, err := NewEncoder().Encode(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(codes) != len(in)/2 {
				t.Fatalf("%d codes for %d samples", len(codes), len(in))
			}
			out := NewDecoder().Decode(nil, codes)
			s, lag := snr(in, out)
			if s < tc.min {
				t.Errorf("SNR %.1f dB at lag %d, want >= %.0f", s, lag, tc.min)
			}
			t.Logf("SNR %.1f dB at lag %d", s, lag)
		})
	}
}

// The codec's delay is that of the two 24-tap QMFs: 22 samples at 16 kHz
// with this alignment of the sample pairs. A non-periodic signal (a chirp)
// has one best lag, which must be that one.
func TestDelayIsTheQMFs(t *testing.T) {
	in := make([]int16, 16000)
	for i := range in {
		tt := float64(i) / 16000
		in[i] = int16(8000 * math.Sin(2*math.Pi*(200*tt+1500*tt*tt)))
	}
	codes, _ := NewEncoder().Encode(nil, in)
	out := NewDecoder().Decode(nil, codes)
	s, lag := snr(in, out)
	if lag != 22 {
		t.Errorf("best lag %d (SNR %.1f dB), want 22", lag, s)
	}
	if s < 20 {
		t.Errorf("chirp SNR %.1f dB, want >= 20", s)
	}
}

func TestSilenceStaysQuiet(t *testing.T) {
	in := make([]int16, 3200)
	codes, _ := NewEncoder().Encode(nil, in)
	out := NewDecoder().Decode(nil, codes)
	for i, v := range out {
		if v > 8 || v < -8 {
			t.Fatalf("sample %d = %d from silence", i, v)
		}
	}
}

func TestOddFrame(t *testing.T) {
	if _, err := NewEncoder().Encode(nil, make([]int16, 3)); err == nil {
		t.Fatal("odd frame accepted")
	}
}

// Any byte sequence decodes without panicking and without leaving the
// 16-bit range; a decoder fed twice the same codes from reset gives the
// same output (no hidden state).
func FuzzDecode(f *testing.F) {
	codes, _ := NewEncoder().Encode(nil, sine(640, 1000, 12000))
	f.Add(codes)
	f.Add([]byte{0, 1, 2, 3, 0xff, 0xfe, 0x40, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		a := NewDecoder().Decode(nil, b)
		c := NewDecoder().Decode(nil, b)
		if len(a) != 2*len(b) {
			t.Fatalf("%d samples from %d codes", len(a), len(b))
		}
		for i := range a {
			if a[i] != c[i] {
				t.Fatalf("decoder not deterministic at %d", i)
			}
		}
	})
}

func BenchmarkEncode20ms(b *testing.B) {
	in := sine(320, 1000, 8000)
	e := NewEncoder()
	buf := make([]byte, 0, 160)
	for b.Loop() {
		buf, _ = e.Encode(buf[:0], in)
	}
}

func BenchmarkDecode20ms(b *testing.B) {
	codes, _ := NewEncoder().Encode(nil, sine(320, 1000, 8000))
	d := NewDecoder()
	buf := make([]int16, 0, 320)
	for b.Loop() {
		buf = d.Decode(buf[:0], codes)
	}
}
