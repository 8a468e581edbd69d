package jitter

// Concealer fills lost frames of a PCM stream by repeating the last good
// frame with a fade (halving per frame) and then silence.
type Concealer struct {
	last  []int16
	gain  float32
	fades int
}

// maxFades: after this many concealed frames, play silence.
const maxFades = 4

// Good records a correctly decoded frame.
func (c *Concealer) Good(pcm []int16) {
	c.last = append(c.last[:0], pcm...)
	c.gain = 1
	c.fades = 0
}

// Conceal appends n samples replacing a lost frame.
func (c *Concealer) Conceal(dst []int16, n int) []int16 {
	c.fades++
	if c.fades > maxFades || len(c.last) == 0 {
		return append(dst, make([]int16, n)...)
	}
	start := len(dst)
	c.gain *= 0.5
	for i := 0; i < n; i++ {
		dst = append(dst, int16(float32(c.last[i%len(c.last)])*c.gain))
	}
	// Smooth the step into the repeated frame over its first samples.
	for i := 0; i < 16 && start+i < len(dst); i++ {
		dst[start+i] = int16(float32(dst[start+i]) * float32(i+1) / 16)
	}
	return dst
}
