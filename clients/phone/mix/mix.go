package mix

import (
	"math"
	"sync"
)

// maxBuffered bounds each input's backlog (200 ms at 48 kHz); older audio
// is dropped so a stalled reader never grows memory or delay.
const maxBuffered = 9600

// Mixer holds the talkers' recent audio. Safe for concurrent use.
type Mixer struct {
	mu     sync.Mutex
	inputs map[string][]int16
	frame  map[string][]int16 // this tick's samples per talker
}

// New returns an empty mixer.
func New() *Mixer { return &Mixer{inputs: map[string][]int16{}, frame: map[string][]int16{}} }

// Write appends a talker's samples.
func (m *Mixer) Write(talker string, pcm []int16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := append(m.inputs[talker], pcm...)
	if over := len(b) - maxBuffered; over > 0 {
		b = append(b[:0], b[over:]...)
	}
	m.inputs[talker] = b
}

// Remove forgets a talker.
func (m *Mixer) Remove(talker string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.inputs, talker)
	delete(m.frame, talker)
}

// Tick takes the next n samples of every talker (padding with silence a
// talker that has less) as the current frame.
func (m *Mixer) Tick(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for t, b := range m.inputs {
		f := append(m.frame[t][:0], make([]int16, n)...)
		k := copy(f, b)
		m.inputs[t] = append(b[:0], b[k:]...)
		m.frame[t] = f
	}
}

// MixFor sums the current frame of every talker except listener into dst
// (len(dst) samples), with a soft limiter instead of hard clipping.
func (m *Mixer) MixFor(listener string, dst []int16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	acc := make([]int32, len(dst))
	for t, f := range m.frame {
		if t == listener {
			continue
		}
		for i := 0; i < len(dst) && i < len(f); i++ {
			acc[i] += int32(f[i])
		}
	}
	for i, v := range acc {
		dst[i] = limit(v)
	}
}

// limit passes values up to ±24576 unchanged and compresses the rest
// smoothly towards ±32767.
func limit(v int32) int16 {
	const knee = 24576
	a := v
	if a < 0 {
		a = -a
	}
	if a <= knee {
		return int16(v)
	}
	over := float64(a-knee) / float64(32767-knee)
	out := knee + (32767-knee)*math.Tanh(over)
	if v < 0 {
		return int16(-out)
	}
	return int16(out)
}
