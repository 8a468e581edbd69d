package itest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"conclave/clients/bot"
)

// TestE2EEKeyRotationFigures measures, for meetings of 3, 10 and 50 bots on
// this machine, (a) the time from a participant's removal to the first frame
// sent under the new epoch and (b) the time from a joiner's request (its
// KeyPackage sent) to its first decrypted frame. It asserts only that both
// happen; the figures are logged (run with -v):
//
//	go test -v -run TestE2EEKeyRotationFigures ./internal/itest
//
// Three bots publish Opus audio (a frame every 20 ms, so a frame follows a
// key change by at most 20 ms); the others only listen, to keep 50 bots
// within two cores. The removal is the DS's (an admin's, or a departure once
// ds.Config.LeaveGrace, 5 s by default, has passed): a silent departure adds
// LeaveGrace to (a).
func TestE2EEKeyRotationFigures(t *testing.T) {
	for _, n := range []int{3, 10, 50} {
		t.Run(fmt.Sprintf("%d bots", n), func(t *testing.T) {
			s := startServer(t)
			link := s.newMeeting()
			room := s.credentials(link).Room
			const publishers = 3
			i := 0
			bots := s.startBots(link, "m", n-1, 40*time.Millisecond, func(c *bot.Config) {
				c.NoVideo = true
				c.NoAudio = i >= publishers-1 // the joiner below is the third
				i++
			})
			waitFor(t, 60*time.Second, "one epoch", sameEpoch(n-1, bots...), bots...)

			// (b) a joiner's request to its first decrypted frame.
			joiner := s.startBots(link, "joiner", 1, 0, func(c *bot.Config) {
				c.NoVideo = true
				c.E2EE.WaitJoined = false
			})[0]
			e := joiner.E2EE()
			waitFor(t, 30*time.Second, "joiner decrypts", func() bool { return !e.FirstOpen().IsZero() }, joiner)
			joinMS := e.FirstOpen().Sub(e.Requested())
			all := append(bots, joiner)
			waitFor(t, 30*time.Second, "one epoch with the joiner", sameEpoch(n, all...), all...)

			// (a) a removal to the first frames under the new epoch.
			var pubs []*bot.Bot
			for _, b := range all {
				if b.Report().AudioFramesSent > 0 {
					pubs = append(pubs, b)
				}
			}
			victim := all[n/2]
			pubs = slices.DeleteFunc(pubs, func(b *bot.Bot) bool { return b == victim })
			old := all[0].E2EE().EpochNumber()
			start := time.Now()
			if err := s.ds.Remove(room, identity(victim)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "publishers send under the new epoch", func() bool {
				for _, b := range pubs {
					if b.E2EE().FirstSealIn(old + 1).IsZero() {
						return false
					}
				}
				return true
			}, pubs...)
			var firsts []time.Duration
			for _, b := range pubs {
				firsts = append(firsts, b.E2EE().FirstSealIn(old+1).Sub(start))
			}
			slices.Sort(firsts)
			t.Logf("%d bots: removal -> first frame under the new epoch %v (last of %d publishers %v); joiner request -> first decrypted frame %v",
				n, firsts[0].Round(time.Millisecond), len(firsts), firsts[len(firsts)-1].Round(time.Millisecond), joinMS.Round(time.Millisecond))
		})
	}
}
