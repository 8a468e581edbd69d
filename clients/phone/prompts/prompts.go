package prompts

import "math"

// Rate is the sampling rate of generated prompts.
const Rate = 48000

// segment is a tone (Freqs summed) or, with no Freqs, silence.
type segment struct {
	Freqs []float64
	Dur   float64 // seconds
}

// Prompt is a tone pattern; Loop repeats it.
type Prompt struct {
	Name string
	Segs []segment
	Loop bool
}

// amplitude of each tone (about −12 dBFS for one tone).
const amplitude = 8000

// Prompts.
var (
	EnterCode = Prompt{"enter-code", []segment{{[]float64{660}, 0.2}, {nil, 0.05}, {[]float64{880}, 0.2}, {nil, 2.55}}, true}
	WrongCode = Prompt{"wrong-code", []segment{{[]float64{913.8}, 0.274}, {[]float64{1370.6}, 0.274}, {[]float64{1776.7}, 0.38}, {nil, 0.5}}, false}
	Waiting   = Prompt{"waiting", []segment{{[]float64{425}, 1}, {nil, 4}}, true}
	Admitted  = Prompt{"admitted", []segment{{[]float64{523.25}, 0.15}, {[]float64{659.25}, 0.15}, {[]float64{783.99}, 0.15}, {nil, 0.1}}, false}
	Refused   = Prompt{"refused", []segment{{[]float64{783.99}, 0.15}, {[]float64{659.25}, 0.15}, {[]float64{523.25}, 0.3}, {nil, 0.3}}, false}
	Muted     = Prompt{"muted", []segment{{[]float64{350}, 0.15}, {nil, 0.05}}, false}
	Unmuted   = Prompt{"unmuted", []segment{{[]float64{1050}, 0.15}, {nil, 0.05}}, false}
)

// Player renders a prompt frame by frame; the zero value plays silence.
type Player struct {
	p    Prompt
	seg  int
	pos  int // sample within the segment
	done bool
}

// NewPlayer starts p.
func NewPlayer(p Prompt) *Player { return &Player{p: p, done: len(p.Segs) == 0} }

// Done reports whether a non-looping prompt has finished.
func (pl *Player) Done() bool { return pl.done }

// Read fills dst with the next samples (silence once done).
func (pl *Player) Read(dst []int16) {
	for i := range dst {
		if pl.done || len(pl.p.Segs) == 0 {
			dst[i] = 0
			continue
		}
		s := pl.p.Segs[pl.seg]
		var v float64
		// A 5 ms ramp at both ends of each tone avoids clicks.
		total := int(s.Dur * Rate)
		ramp := min(1.0, float64(pl.pos)/240, float64(total-pl.pos)/240)
		for _, f := range s.Freqs {
			v += amplitude * math.Sin(2*math.Pi*f*float64(pl.pos)/Rate)
		}
		dst[i] = int16(v * ramp)
		pl.pos++
		if pl.pos >= total {
			pl.pos = 0
			pl.seg++
			if pl.seg == len(pl.p.Segs) {
				if pl.p.Loop {
					pl.seg = 0
				} else {
					pl.done = true
				}
			}
		}
	}
}
