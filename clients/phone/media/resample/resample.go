package resample

import (
	"errors"
	"fmt"
	"math"
)

// ErrRate: a rate is not positive or the ratio is too large.
var ErrRate = errors.New("resample: unsupported rates")

// zerosPerSide is the number of zero crossings of the sinc kept on each
// side of the filter's centre; 16 gives about 70 dB of stop band with the
// Blackman window.
const zerosPerSide = 16

// Resampler converts a stream from one rate to another. Not safe for
// concurrent use.
type Resampler struct {
	up, down int       // L and M, coprime
	taps     int       // filter taps per phase
	h        []float32 // L·taps coefficients, phase-major: h[phase*taps+k]
	hist     []float32 // the last taps−1 input samples, oldest first
	phase    int       // position of the next output, in 1/L input steps, past the newest hist sample
	in       []float32
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// New returns a resampler from inRate to outRate (Hz).
func New(inRate, outRate int) (*Resampler, error) {
	if inRate <= 0 || outRate <= 0 {
		return nil, fmt.Errorf("%w: %d -> %d", ErrRate, inRate, outRate)
	}
	g := gcd(inRate, outRate)
	up, down := outRate/g, inRate/g
	if up > 64 || down > 64 {
		return nil, fmt.Errorf("%w: ratio %d/%d", ErrRate, up, down)
	}
	r := &Resampler{up: up, down: down}
	if up == 1 && down == 1 {
		return r, nil
	}
	// Low-pass at the lower Nyquist frequency, at the upsampled rate
	// L·inRate: cutoff 1/(2·max(L, M)) cycles per sample, with 10% of
	// transition band kept below it.
	m := max(up, down)
	fc := 0.5 / float64(m) * 0.9
	r.taps = 2 * zerosPerSide * m / up
	if r.taps < 2 {
		r.taps = 2
	}
	n := r.taps * up
	r.h = make([]float32, n)
	centre := float64(n-1) / 2
	for i := 0; i < n; i++ {
		t := float64(i) - centre
		sinc := 2 * fc
		if t != 0 {
			sinc = math.Sin(2*math.Pi*fc*t) / (math.Pi * t)
		}
		w := 0.42 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1)) + 0.08*math.Cos(4*math.Pi*float64(i)/float64(n-1))
		// Gain L restores the amplitude lost by zero-stuffing. Store by
		// phase: coefficient i applies to input sample floor(i/L) back
		// for output phase i mod L.
		r.h[(i%up)*r.taps+i/up] = float32(sinc * w * float64(up))
	}
	r.hist = make([]float32, r.taps-1)
	return r, nil
}

// Ratio returns the reduced output/input ratio.
func (r *Resampler) Ratio() (up, down int) { return r.up, r.down }

// OutLen returns how many samples Process will append for n input samples
// in the resampler's current state.
func (r *Resampler) OutLen(n int) int {
	if r.up == 1 && r.down == 1 {
		return n
	}
	// Outputs are at input positions (phase + j·M)/L for j ≥ 0, within
	// the n new samples.
	total := n * r.up
	if r.phase >= total {
		return 0
	}
	return (total-r.phase-1)/r.down + 1
}

// Process appends the resampled in to dst.
func (r *Resampler) Process(dst []int16, in []int16) []int16 {
	if r.up == 1 && r.down == 1 {
		return append(dst, in...)
	}
	// Work buffer: history then the new samples.
	r.in = append(r.in[:0], r.hist...)
	for _, s := range in {
		r.in = append(r.in, float32(s))
	}
	base := len(r.hist) // index of the first new sample
	pos := r.phase
	total := len(in) * r.up
	for ; pos < total; pos += r.down {
		idx := base + pos/r.up // newest input sample used
		ph := pos % r.up
		h := r.h[ph*r.taps : (ph+1)*r.taps]
		var acc float32
		for k, c := range h {
			acc += c * r.in[idx-k]
		}
		dst = append(dst, sat(acc))
	}
	r.phase = pos - total
	copy(r.hist, r.in[len(r.in)-len(r.hist):])
	return dst
}

func sat(x float32) int16 {
	switch {
	case x >= 32767:
		return 32767
	case x <= -32768:
		return -32768
	}
	return int16(math.Round(float64(x)))
}
