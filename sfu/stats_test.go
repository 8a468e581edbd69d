package sfu

import "testing"

func TestSeqGap(t *testing.T) {
	cases := []struct {
		name string
		seqs []uint16
		lost uint64
	}{
		{"in order", []uint16{10, 11, 12, 13}, 0},
		{"one gap of two", []uint16{10, 11, 14, 15}, 2},
		{"wrap around", []uint16{65534, 65535, 0, 2}, 1},
		{"late packet fills nothing", []uint16{10, 12, 11, 13}, 1},
		{"duplicate", []uint16{10, 10, 11}, 0},
		{"restart far ahead is not loss", []uint16{10, 11, 20000, 20001}, 0},
		{"two gaps", []uint16{1, 3, 6}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var g seqGap
			var lost uint64
			for _, s := range c.seqs {
				lost += g.next(s)
			}
			if lost != c.lost {
				t.Fatalf("lost %d, want %d", lost, c.lost)
			}
		})
	}
}

func TestStatsCounters(t *testing.T) {
	var nilStats *Stats
	nilStats.received(100)
	nilStats.lost(3)
	nilStats.sent(100)
	nilStats.drop()
	nilStats.subscriberLost(2)
	if s := nilStats.Snapshot(); s != (StatsSnapshot{}) {
		t.Fatalf("nil stats: %+v", s)
	}
	var s Stats
	s.received(100)
	s.received(50)
	s.lost(3)
	s.lost(0)
	s.sent(120)
	s.drop()
	s.subscriberLost(2)
	want := StatsSnapshot{PacketsIn: 2, BytesIn: 150, LostIn: 3, PacketsOut: 1, BytesOut: 120, Dropped: 1, LostOut: 2}
	if got := s.Snapshot(); got != want {
		t.Fatalf("snapshot %+v, want %+v", got, want)
	}
}
