package prompts

import (
	"math"
	"testing"
)

// power is the Goertzel power of freq in pcm, normalised by length.
func power(pcm []int16, freq float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/Rate)
	var s1, s2 float64
	for _, x := range pcm {
		s := float64(x) + k*s1 - s2
		s2, s1 = s1, s
	}
	return (s1*s1 + s2*s2 - k*s1*s2) / float64(len(pcm)) / float64(len(pcm))
}

func TestPromptsHaveTheirTones(t *testing.T) {
	for _, tc := range []struct {
		p     Prompt
		at    float64 // seconds into the prompt
		tone  float64
		other float64
	}{
		{EnterCode, 0.1, 660, 880},
		{EnterCode, 0.35, 880, 660},
		{WrongCode, 0.1, 913.8, 1776.7},
		{WrongCode, 0.7, 1776.7, 913.8},
		{Waiting, 0.5, 425, 660},
		{Admitted, 0.35, 783.99, 523.25},
		{Refused, 0.05, 783.99, 523.25},
		{Muted, 0.07, 350, 1050},
		{Unmuted, 0.07, 1050, 350},
	} {
		t.Run(tc.p.Name, func(t *testing.T) {
			pl := NewPlayer(tc.p)
			skip := make([]int16, int(tc.at*Rate)-480)
			pl.Read(skip)
			win := make([]int16, 960)
			pl.Read(win)
			on, off := power(win, tc.tone), power(win, tc.other)
			if on < 100*off || on < 1e5 {
				t.Fatalf("at %.2fs: %.0f Hz power %.3g, %.0f Hz power %.3g", tc.at, tc.tone, on, tc.other, off)
			}
		})
	}
}

func TestLoopAndDone(t *testing.T) {
	pl := NewPlayer(Muted)
	buf := make([]int16, Rate)
	pl.Read(buf)
	if !pl.Done() {
		t.Fatal("one-shot prompt not done after a second")
	}
	pl = NewPlayer(Waiting)
	buf = make([]int16, 6*Rate)
	pl.Read(buf)
	if pl.Done() || power(buf[5*Rate:5*Rate+4800], 425) < 1e5 {
		t.Fatal("waiting tone does not loop")
	}
	var z Player
	z.Read(buf[:10])
	for _, v := range buf[:10] {
		if v != 0 {
			t.Fatal("zero player not silent")
		}
	}
}
