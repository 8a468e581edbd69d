package mix

import "testing"

func fill(n int, v int16) []int16 {
	b := make([]int16, n)
	for i := range b {
		b[i] = v
	}
	return b
}

func TestNMinusOne(t *testing.T) {
	m := New()
	m.Write("phone", fill(960, 1000))
	m.Write("alice", fill(960, 200))
	m.Write("bob", fill(960, 30))
	m.Tick(960)
	for _, tc := range []struct {
		listener string
		want     int16
	}{{"phone", 230}, {"alice", 1030}, {"bob", 1200}, {"nobody", 1230}} {
		t.Run(tc.listener, func(t *testing.T) {
			out := make([]int16, 960)
			m.MixFor(tc.listener, out)
			if out[0] != tc.want || out[959] != tc.want {
				t.Fatalf("mix %d, want %d", out[0], tc.want)
			}
		})
	}
}

func TestShortInputPadsAndBacklogBounded(t *testing.T) {
	m := New()
	m.Write("a", fill(100, 5))
	m.Tick(960)
	out := make([]int16, 960)
	m.MixFor("x", out)
	if out[99] != 5 || out[100] != 0 {
		t.Fatalf("padding: %d %d", out[99], out[100])
	}
	m.Write("b", fill(3*maxBuffered, 1))
	m.mu.Lock()
	n := len(m.inputs["b"])
	m.mu.Unlock()
	if n != maxBuffered {
		t.Fatalf("backlog %d", n)
	}
	m.Remove("b")
	m.Tick(960)
	m.MixFor("x", out)
	if out[0] != 0 {
		t.Fatal("removed talker still heard")
	}
}

func TestLimiter(t *testing.T) {
	m := New()
	m.Write("a", fill(10, 30000))
	m.Write("b", fill(10, 30000))
	m.Write("c", fill(10, -30000))
	m.Write("d", fill(10, -30000))
	m.Write("e", fill(10, -30000))
	m.Tick(10)
	out := make([]int16, 10)
	m.MixFor("a", out) // b − 3×30000 = −60000
	if out[0] > -30000 || out[0] < -32767 {
		t.Fatalf("limited %d", out[0])
	}
	if limit(1000) != 1000 || limit(-24576) != -24576 {
		t.Fatal("limiter changes quiet audio")
	}
}
