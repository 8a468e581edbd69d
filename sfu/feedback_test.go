package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// TestTransportFeedback: arrivals are reported at most every 100 ms, each
// report covering the packets since the last one, a missing number as not
// received.
func TestTransportFeedback(t *testing.T) {
	var sent [][]rtcp.Packet
	f := newTransportFeedback(func(p []rtcp.Packet) error { sent = append(sent, p); return nil })
	t0 := f.start.Add(time.Second)
	for i := 0; i < 10; i++ {
		if i == 5 {
			continue // lost
		}
		if err := f.record(42, uint16(100+i), t0.Add(time.Duration(i)*10*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if len(sent) != 1 {
		t.Fatalf("%d reports within 100 ms, want 1 (the first packet's)", len(sent))
	}
	if err := f.record(42, 110, t0.Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 || len(sent[1]) != 1 {
		t.Fatalf("reports %v", sent)
	}
	fb, ok := sent[1][0].(*rtcp.TransportLayerCC)
	if !ok {
		t.Fatalf("report %T", sent[1][0])
	}
	if fb.MediaSSRC != 42 || fb.BaseSequenceNumber != 101 || fb.PacketStatusCount != 10 || len(fb.RecvDeltas) != 9 {
		t.Fatalf("feedback base %d, count %d, %d deltas: want 101, 10 (101..110), 9 received",
			fb.BaseSequenceNumber, fb.PacketStatusCount, len(fb.RecvDeltas))
	}
}
