package jitter

import (
	"math/rand/v2"
	"testing"
	"time"
)

type arrival struct {
	seq uint16
	at  time.Duration
}

// run feeds packets (payload = seq as 2 bytes) at their arrival times and
// pops every 20 ms, returning what was played.
func run(t *testing.T, b *Buffer, in []arrival, frames int) (played []uint16, lost int) {
	t.Helper()
	t0 := time.Unix(1000, 0)
	i := 0
	for f := 0; f < frames; f++ {
		now := time.Duration(f) * 20 * time.Millisecond
		for i < len(in) && in[i].at <= now {
			s := in[i].seq
			b.Push(s, uint32(s)*160, []byte{byte(s >> 8), byte(s)}, t0.Add(in[i].at))
			i++
		}
		if i == len(in) && b.Len() == 0 {
			break // the end of the stream, not losses
		}
		switch st, p := b.Pop(); st {
		case Packet:
			played = append(played, uint16(p[0])<<8|uint16(p[1]))
		case Lost:
			lost++
		}
	}
	return played, lost
}

func TestInOrder(t *testing.T) {
	var in []arrival
	for s := 0; s < 50; s++ {
		in = append(in, arrival{uint16(65500 + s), time.Duration(s) * 20 * time.Millisecond})
	}
	played, lost := run(t, New(Config{}), in, 60)
	if lost != 0 || len(played) != 50 {
		t.Fatalf("played %d, lost %d", len(played), lost)
	}
	for i, s := range played {
		if s != uint16(65500+i) {
			t.Fatalf("frame %d is seq %d (wraparound)", i, s)
		}
	}
}

func TestReorderAndLoss(t *testing.T) {
	var in []arrival
	for s := 0; s < 100; s++ {
		if s == 40 {
			continue // lost
		}
		at := time.Duration(s) * 20 * time.Millisecond
		if s%10 == 3 {
			at += 30 * time.Millisecond // arrives after its successor
		}
		in = append(in, arrival{uint16(s), at})
	}
	b := New(Config{MinDelay: 3})
	played, lost := run(t, b, in, 120)
	if lost != 1 {
		t.Errorf("lost %d frames, want 1 (seq 40)", lost)
	}
	if len(played) != 99 {
		t.Errorf("played %d, want 99", len(played))
	}
	for i := 1; i < len(played); i++ {
		if played[i] <= played[i-1] {
			t.Fatalf("out of order: %d after %d", played[i], played[i-1])
		}
	}
}

func TestJitterRaisesTarget(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var in []arrival
	for s := 0; s < 200; s++ {
		in = append(in, arrival{uint16(s), time.Duration(s)*20*time.Millisecond + time.Duration(r.IntN(60))*time.Millisecond})
	}
	b := New(Config{})
	run(t, b, in, 50)
	if b.Jitter() < 5*time.Millisecond || b.Target() < 2 {
		t.Errorf("jitter %v target %d after 0-60 ms random delays", b.Jitter(), b.Target())
	}
}

func TestFarAheadResets(t *testing.T) {
	b := New(Config{})
	now := time.Unix(0, 0)
	b.Push(1, 160, []byte{1}, now)
	if st, _ := b.Pop(); st != Packet {
		t.Fatalf("first pop %v", st)
	}
	b.Push(30000, 999, []byte{2}, now)
	if st, p := b.Pop(); st != Packet || p[0] != 2 {
		t.Fatalf("after a jump: %v %v", st, p)
	}
}

func TestConcealerFades(t *testing.T) {
	var c Concealer
	frame := make([]int16, 160)
	for i := range frame {
		frame[i] = 10000
	}
	c.Good(frame)
	var peaks []int16
	for range 6 {
		out := c.Conceal(nil, 160)
		peaks = append(peaks, out[100])
	}
	want := []int16{5000, 2500, 1250, 625, 0, 0}
	for i := range want {
		if peaks[i] != want[i] {
			t.Fatalf("concealed peaks %v, want %v", peaks, want)
		}
	}
}

// Arbitrary packet sequences never crash the buffer and never play a
// sequence number twice or backwards within a started run.
func FuzzBuffer(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 3, 0xff, 0xff, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		buf := New(Config{MinDelay: 2})
		now := time.Unix(0, 0)
		var last int32 = -1
		for i := 0; i+1 < len(b); i += 2 {
			seq := uint16(b[i])<<8 | uint16(b[i+1])
			buf.Push(seq, uint32(seq)*160, []byte{b[i], b[i+1]}, now)
			now = now.Add(20 * time.Millisecond)
			if st, p := buf.Pop(); st == Packet {
				s := int32(uint16(p[0])<<8 | uint16(p[1]))
				if last >= 0 && s == last {
					t.Fatalf("seq %d played twice", s)
				}
				last = s
			}
			if buf.Len() > capacity {
				t.Fatalf("holds %d", buf.Len())
			}
		}
	})
}
