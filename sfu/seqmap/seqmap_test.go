package seqmap

import (
	"testing"
	"time"
)

func TestContinuousRun(t *testing.T) {
	m := New(90000)
	now := time.Unix(1000, 0)
	m.Start(0, 100, 5000, now)
	for i := uint16(0); i < 5; i++ {
		s, ts, ok := m.Forward(0, 100+i, 5000+uint32(i)*3000, now)
		if !ok || s != 100+i || ts != 5000+uint32(i)*3000 {
			t.Fatalf("packet %d: (%d, %d, %v)", i, s, ts, ok)
		}
	}
}

func TestSwitchLayers(t *testing.T) {
	tests := []struct {
		name      string
		newSeq    uint16
		newTS     uint32
		elapsed   time.Duration
		wantSeq   uint16
		wantTS    uint32
		prevStart uint16
	}{
		{"to a higher layer", 40000, 123456, 33 * time.Millisecond, 105, 5000 + 4*3000 + 2970, 100},
		{"sequence wraparound", 65535, 1, 100 * time.Millisecond, 105, 5000 + 4*3000 + 9000, 100},
		{"no time elapsed still advances", 7, 7, 0, 105, 5000 + 4*3000 + 1, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New(90000)
			now := time.Unix(1000, 0)
			m.Start(0, 100, 5000, now)
			for i := uint16(0); i < 5; i++ {
				m.Forward(0, 100+i, 5000+uint32(i)*3000, now)
			}
			later := now.Add(tc.elapsed)
			m.Start(2, tc.newSeq, tc.newTS, later)
			if m.Layer() != 2 {
				t.Fatalf("Layer = %d", m.Layer())
			}
			s, ts, ok := m.Forward(2, tc.newSeq, tc.newTS, later)
			if !ok || s != tc.wantSeq || ts != tc.wantTS {
				t.Fatalf("first packet after switch = (%d, %d, %v), want (%d, %d)", s, ts, ok, tc.wantSeq, tc.wantTS)
			}
			s2, ts2, ok := m.Forward(2, tc.newSeq+1, tc.newTS+3000, later)
			if !ok || s2 != tc.wantSeq+1 || ts2 != tc.wantTS+3000 {
				t.Fatalf("second packet = (%d, %d, %v)", s2, ts2, ok)
			}
			if _, _, ok := m.Forward(0, 105, 20000, later); ok {
				t.Fatal("packet of the old layer forwarded after the switch")
			}
			if _, _, ok := m.Forward(2, tc.newSeq-1, tc.newTS, later); ok {
				t.Fatal("packet older than the run start forwarded")
			}
			// NACK lookups map into the right run.
			if l, in, ok := m.Lookup(103); !ok || l != 0 || in != 103 {
				t.Fatalf("Lookup(103) = %d %d %v", l, in, ok)
			}
			if l, in, ok := m.Lookup(tc.wantSeq + 1); !ok || l != 2 || in != tc.newSeq+1 {
				t.Fatalf("Lookup(after switch) = %d %d %v", l, in, ok)
			}
			if _, _, ok := m.Lookup(tc.wantSeq + 2); ok {
				t.Fatal("Lookup of a number never sent succeeded")
			}
		})
	}
}

func TestReorderedWithinRun(t *testing.T) {
	m := New(48000)
	now := time.Unix(0, 0)
	m.Start(0, 10, 0, now)
	m.Forward(0, 10, 0, now)
	m.Forward(0, 12, 1920, now)
	s, _, ok := m.Forward(0, 11, 960, now)
	if !ok || s != 11 {
		t.Fatalf("late packet = %d %v", s, ok)
	}
	m.Start(0, 20, 9600, now.Add(time.Second))
	s, ts, ok := m.Forward(0, 20, 9600, now.Add(time.Second))
	if !ok || s != 13 || ts != 1920+48000 {
		t.Fatalf("resume after drop = %d %d %v", s, ts, ok)
	}
}

func TestLookupBeforeStart(t *testing.T) {
	m := New(90000)
	if _, _, ok := m.Lookup(1); ok {
		t.Fatal("Lookup before Start succeeded")
	}
	if m.Layer() != -1 {
		t.Fatal("Layer before Start")
	}
}
