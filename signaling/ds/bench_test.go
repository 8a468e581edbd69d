package ds_test

import (
	"fmt"
	"testing"

	"conclave/e2ee/dsproto"
	"conclave/signaling/ds"
)

// BenchmarkApplicationRelay measures one chat message (1 KiB of
// application data) from one member reaching the nine others over loopback
// WebSockets, through the DS's checks (framing, epoch) and fan-out.
func BenchmarkApplicationRelay(b *testing.B) {
	h := newHarness(b, ds.Config{})
	names := make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprintf("m%d", i)
	}
	ms := h.meeting(roomA, names...)
	msg, err := ms[0].group.Seal(make([]byte, 1024), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for range b.N {
		ms[0].c.send(&dsproto.Application{Message: msg})
		for _, m := range ms[1:] {
			expect[*dsproto.RelayedApplication](m.c, dsproto.TypeLobbyGone)
		}
	}
}
