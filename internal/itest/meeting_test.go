package itest

import (
	"context"
	"testing"
	"time"

	"conclave/clients/bot"
)

// Frames each bot must receive from each other bot before the media checks:
// two seconds of audio (20 ms frames) and video (30 fps).
const (
	wantAudioFrames = 100
	wantVideoFrames = 60
)

// TestThreeBots is the Foundation's meeting test: three bots in one meeting
// over loopback each receive the others' audio and video with no loss; one
// resumes after its WebSocket is cut; one leaves and the others see it leave
// within a second. The subtests run in order on one meeting.
func TestThreeBots(t *testing.T) {
	s := startServer(t)
	link := s.newMeeting()
	bots := []*bot.Bot{
		s.join(link, s.config("alice")),
		s.join(link, s.config("bob")),
		s.join(link, s.config("carol")),
	}

	t.Run("media", func(t *testing.T) {
		waitFor(t, 20*time.Second, "every bot to receive audio and video from both others",
			allReceive(wantAudioFrames, wantVideoFrames, bots...), bots...)
		for i, b := range bots {
			r := b.Report()
			if r.ParticipantsSeen != 2 {
				t.Errorf("%s saw %d participants, want 2", r.Identity, r.ParticipantsSeen)
			}
			if first := bots[0].Report(); r.Epoch == "" || r.SecurityCode == "" || r.Epoch != first.Epoch || r.SecurityCode != first.SecurityCode {
				t.Errorf("%s: epoch %q, security code %q; the first bot shows %q, %q: want the same MLS epoch and code",
					r.Identity, r.Epoch, r.SecurityCode, first.Epoch, first.SecurityCode)
			}
			for j, o := range bots {
				if i == j {
					continue
				}
				ts := tracksFrom(r, identity(o))
				for _, kind := range []string{"audio", "video"} {
					tr := ts[kind]
					// Loss is counted from the sequence numbers inside the
					// frames. A partial frame is not by itself a loss: at a
					// layer switch the SFU may cut the old layer's frame
					// that the new layer's keyframe of the same instant
					// replaces.
					if tr.DecryptFailures != 0 || tr.FramesLost != 0 {
						t.Errorf("%s from %s: %d decrypt failures, %d lost; want none on loopback",
							kind, identity(o), tr.DecryptFailures, tr.FramesLost)
					}
				}
				if v := ts["video"]; v.SwitchesOffKeyframe != 0 || !v.Decodable {
					t.Errorf("video from %s: %d layer switches on a delta frame, decodable %v; want 0 and true",
						identity(o), v.SwitchesOffKeyframe, v.Decodable)
				}
			}
			if t.Failed() {
				t.Log(describe(r))
			}
		}
	})

	t.Run("resume after the WebSocket is cut", func(t *testing.T) {
		b := bots[1]
		id, sid := b.Identity()
		before := make([]bot.Report, len(bots))
		for i, o := range bots {
			before[i] = o.Report()
		}
		b.CutSignal()
		waitFor(t, 10*time.Second, "the bot to resume its session", func() bool { return b.Report().Resumes == 1 })
		if _, sid2 := b.Identity(); sid2 != sid {
			t.Errorf("participant SID changed across a resume: %s -> %s", sid, sid2)
		}
		// Media keeps flowing both ways after the resume.
		waitFor(t, 10*time.Second, "media to flow to and from the resumed bot", func() bool {
			for i, o := range bots {
				r := o.Report()
				for j, p := range bots {
					if i == j || (i != 1 && j != 1) {
						continue
					}
					old := tracksFrom(before[i], identity(p))
					now := tracksFrom(r, identity(p))
					if now["audio"].FramesDecrypted < old["audio"].FramesDecrypted+wantAudioFrames/2 ||
						now["video"].FramesDecrypted < old["video"].FramesDecrypted+wantVideoFrames/2 {
						return false
					}
				}
			}
			return true
		})
		for _, o := range []*bot.Bot{bots[0], bots[2]} {
			if _, left := o.LeftAt(id); left {
				t.Errorf("%s saw the resuming participant leave", identity(o))
			}
			if r := o.Report(); r.DecryptFailures != 0 {
				t.Errorf("%s: %d decrypt failures", r.Identity, r.DecryptFailures)
			}
		}
	})

	t.Run("leave seen within a second", func(t *testing.T) {
		leaver := bots[2]
		id := identity(leaver)
		start := time.Now()
		leaver.Leave()
		for _, o := range bots[:2] {
			waitFor(t, time.Second, identity(o)+" to see "+id+" leave", func() bool {
				for _, p := range o.Participants() {
					if p.Identity == id {
						return false
					}
				}
				return true
			})
			at, ok := o.LeftAt(id)
			if !ok {
				t.Errorf("%s: participant gone without a DISCONNECTED update", identity(o))
			} else if d := at.Sub(start); d > time.Second {
				t.Errorf("%s saw the leave after %v, want within 1s", identity(o), d)
			}
		}
		if err := leaver.Err(); err != nil {
			t.Errorf("leaving bot ended with %v", err)
		}
	})
}

// TestContextEndsBot checks that cancelling the context a bot was started
// with makes it leave: its goroutines end and the others see it go.
func TestContextEndsBot(t *testing.T) {
	s := startServer(t)
	link := s.newMeeting()
	stay := s.join(link, s.config("stay"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := s.config("cancelled")
	b, err := bot.Join(ctx, link, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	id := identity(b)
	waitFor(t, 10*time.Second, "the other bot to see it", func() bool { return len(stay.Participants()) == 1 })
	cancel()
	select {
	case <-b.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("bot still running 5s after its context was cancelled")
	}
	waitFor(t, time.Second, "the other bot to see it leave", func() bool {
		_, left := stay.LeftAt(id)
		return left
	})
}
