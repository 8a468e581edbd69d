package g711

import (
	"fmt"
	"math"
	"testing"
)

// ulawTable is G.711 Table 2b written out as formulas: for segment s and
// step q, the decision interval in 14-bit units and the reconstruction
// value at its centre.
func ulawTable(s, q int) (lo, hi, y int) {
	// Segment s holds biased magnitudes (x + 33) in [32·2^s, 64·2^s) in
	// steps of 2^(s+1).
	base := (1<<s)*32 - 33
	lo = base + q*(1<<(s+1))
	hi = lo + 1<<(s+1)
	y = lo + 1<<s
	return lo, hi, y
}

func TestUlawAgainstTable2b(t *testing.T) {
	for s := 0; s < 8; s++ {
		for q := 0; q < 16; q++ {
			t.Run(fmt.Sprintf("seg%d/step%d", s, q), func(t *testing.T) {
				_, _, y := ulawTable(s, q)
				pos := ^byte(s<<4 | q)
				neg := ^byte(0x80 | s<<4 | q)
				if got := DecodeUlaw(pos); int(got) != 4*y {
					t.Errorf("decode %#x = %d, want %d", pos, got, 4*y)
				}
				if got := DecodeUlaw(neg); int(got) != -4*y {
					t.Errorf("decode %#x = %d, want %d", neg, got, -4*y)
				}
				if got := EncodeUlaw(DecodeUlaw(pos)); got != pos {
					t.Errorf("encode(decode(%#x)) = %#x", pos, got)
				}
				// Negative zero (0x7f) decodes to 0, which encodes as
				// positive zero (0xff).
				wantNeg := neg
				if y == 0 {
					wantNeg = pos
				}
				if got := EncodeUlaw(DecodeUlaw(neg)); got != wantNeg {
					t.Errorf("encode(decode(%#x)) = %#x, want %#x", neg, got, wantNeg)
				}
			})
		}
	}
}

func alawTable(s, q int) (lo, hi, y int) {
	if s == 0 {
		return 2 * q, 2*q + 2, 2*q + 1
	}
	step := 1 << s
	lo = (1 << (s + 4)) + q*step
	return lo, lo + step, lo + step/2
}

func TestAlawAgainstTable1a(t *testing.T) {
	for s := 0; s < 8; s++ {
		for q := 0; q < 16; q++ {
			t.Run(fmt.Sprintf("seg%d/step%d", s, q), func(t *testing.T) {
				_, _, y := alawTable(s, q)
				pos := byte(0x80|s<<4|q) ^ 0x55
				neg := byte(s<<4|q) ^ 0x55
				if got := DecodeAlaw(pos); int(got) != 8*y {
					t.Errorf("decode %#x = %d, want %d", pos, got, 8*y)
				}
				if got := DecodeAlaw(neg); int(got) != -8*y {
					t.Errorf("decode %#x = %d, want %d", neg, got, -8*y)
				}
				if got := EncodeAlaw(DecodeAlaw(pos)); got != pos {
					t.Errorf("encode(decode(%#x)) = %#x", pos, got)
				}
				if got := EncodeAlaw(DecodeAlaw(neg)); got != neg {
					t.Errorf("encode(decode(%#x)) = %#x", neg, got)
				}
			})
		}
	}
}

// Every 16-bit input must land in the decision interval that contains it
// (or the top one when it is beyond the coder's range).
func TestEncodeDecisionIntervals(t *testing.T) {
	for _, law := range []struct {
		name   string
		enc    func(int16) byte
		dec    func(byte) int16
		halfOf func(byte) int
	}{
		{"ulaw", EncodeUlaw, DecodeUlaw, func(c byte) int { return 4 << ((^c >> 4) & 7) }},
		{"alaw", EncodeAlaw, DecodeAlaw, func(c byte) int {
			s := ((c ^ 0x55) >> 4) & 7
			if s == 0 {
				return 8
			}
			return 8 << (s - 1)
		}},
	} {
		t.Run(law.name, func(t *testing.T) {
			for x := math.MinInt16; x <= math.MaxInt16; x++ {
				c := law.enc(int16(x))
				y := int(law.dec(c))
				half := law.halfOf(c)
				if y > 30000 || y < -30000 {
					continue // clipped top segment
				}
				// Intervals are [y−half, y+half) for positive values and
				// mirrored (by −x−1) for negative ones; allow the one
				// 16-bit unit the sub-resolution bits introduce.
				if x < y-half-8 || x > y+half+8 {
					t.Fatalf("x=%d coded %#x decodes to %d (half-step %d)", x, c, y, half)
				}
			}
		})
	}
}

func TestSignalToNoise(t *testing.T) {
	// G.711 gives about 38 dB SNR for a loud sine (G.712 limits).
	const n = 8000
	var sig, ulawNoise, alawNoise float64
	for i := 0; i < n; i++ {
		x := int16(16000 * math.Sin(2*math.Pi*1020*float64(i)/8000))
		u := DecodeUlaw(EncodeUlaw(x))
		a := DecodeAlaw(EncodeAlaw(x))
		sig += float64(x) * float64(x)
		ulawNoise += float64(x-u) * float64(x-u)
		alawNoise += float64(x-a) * float64(x-a)
	}
	for name, noise := range map[string]float64{"ulaw": ulawNoise, "alaw": alawNoise} {
		if snr := 10 * math.Log10(sig/noise); snr < 35 {
			t.Errorf("%s SNR %.1f dB, want >= 35", name, snr)
		}
	}
}

func BenchmarkEncodeUlaw(b *testing.B) {
	pcm := make([]int16, 160)
	buf := make([]byte, 0, 160)
	for i := range pcm {
		pcm[i] = int16(i * 200)
	}
	for b.Loop() {
		buf = EncodeUlawFrame(buf[:0], pcm)
	}
}
