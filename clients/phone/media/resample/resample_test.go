package resample

import (
	"fmt"
	"math"
	"testing"

	"conclave/clients/phone/phonetest"
)

func tone(n, rate int, freq, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

func rms(pcm []int16) float64 {
	var s float64
	for _, x := range pcm {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s / float64(len(pcm)))
}

func TestRates(t *testing.T) {
	for _, tc := range []struct{ in, out int }{
		{8000, 48000}, {48000, 8000}, {16000, 48000}, {48000, 16000},
		{8000, 16000}, {16000, 8000}, {48000, 48000},
	} {
		t.Run(fmt.Sprintf("%d-%d", tc.in, tc.out), func(t *testing.T) {
			r, err := New(tc.in, tc.out)
			if err != nil {
				t.Fatal(err)
			}
			// One second in 20 ms frames.
			frame := tc.in / 50
			src := tone(tc.in, tc.in, 1000, 10000)
			var out []int16
			for i := 0; i < len(src); i += frame {
				want := r.OutLen(frame)
				before := len(out)
				out = r.Process(out, src[i:i+frame])
				if got := len(out) - before; got != want || got != tc.out/50 {
					t.Fatalf("frame %d: %d samples, OutLen said %d, want %d", i/frame, got, want, tc.out/50)
				}
			}
			tail := out[len(out)/4:]
			if a := rms(tail) * math.Sqrt2; math.Abs(a-10000) > 300 {
				t.Errorf("amplitude %.0f, want 10000±300", a)
			}
			// The tone stays a 1 kHz tone, with little else.
			if p := phonetest.Goertzel(tail, 1000, tc.out); p < 1e6 {
				t.Errorf("1 kHz power %.3g", p)
			}
		})
	}
}

// Downsampling removes what the lower rate cannot carry (no aliasing): a
// 6 kHz tone at 48 kHz must vanish at 8 kHz instead of folding to 2 kHz.
func TestAntiAliasing(t *testing.T) {
	r, _ := New(48000, 8000)
	out := r.Process(nil, tone(48000, 48000, 6000, 10000))
	if a := rms(out[800:]) * math.Sqrt2; a > 10000*0.003 {
		t.Errorf("6 kHz leaks as amplitude %.1f (%.1f dB)", a, 20*math.Log10(a/10000))
	}
}

func TestBadRates(t *testing.T) {
	for _, tc := range [][2]int{{0, 8000}, {8000, -1}, {44100, 48001}} {
		if _, err := New(tc[0], tc[1]); err == nil {
			t.Errorf("%v accepted", tc)
		}
	}
}

func BenchmarkUp8kTo48k20ms(b *testing.B) {
	r, _ := New(8000, 48000)
	in := tone(160, 8000, 1000, 8000)
	out := make([]int16, 0, 960)
	for b.Loop() {
		out = r.Process(out[:0], in)
	}
}

func BenchmarkDown48kTo8k20ms(b *testing.B) {
	r, _ := New(48000, 8000)
	in := tone(960, 48000, 1000, 8000)
	out := make([]int16, 0, 160)
	for b.Loop() {
		out = r.Process(out[:0], in)
	}
}
