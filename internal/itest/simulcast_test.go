package itest

import (
	"testing"
	"time"

	"conclave/clients/bot"
)

// TestSimulcastLayers checks layer selection: a subscriber asking for low
// quality gets the low layer, and when it asks for high quality it switches,
// on a keyframe and without losing frames.
func TestSimulcastLayers(t *testing.T) {
	s := startServer(t)
	link := s.newMeeting()
	pub := s.join(link, s.config("publisher"))
	low := bot.LayerLow
	cfg := s.config("viewer")
	cfg.Quality = &low
	cfg.NoAudio, cfg.NoVideo = true, true
	viewer := s.join(link, cfg)
	pubID := identity(pub)

	video := func() bot.TrackReport { return tracksFrom(viewer.Report(), pubID)["video"] }

	t.Run("low quality gets the low layer", func(t *testing.T) {
		waitFor(t, 15*time.Second, "the viewer to receive the low layer", func() bool {
			v := video()
			return v.Layer == "low" && v.LayerFrames[bot.LayerLow] >= wantVideoFrames
		}, viewer)
		// Once on the low layer it stays there: more frames, no switch.
		settled := video()
		waitFor(t, 10*time.Second, "more low-layer frames", func() bool {
			return video().LayerFrames[bot.LayerLow] >= settled.LayerFrames[bot.LayerLow]+wantVideoFrames/2
		}, viewer)
		if v := video(); v.LayerSwitches != settled.LayerSwitches || v.Layer != "low" {
			t.Errorf("viewer left the low layer it asked for: %+v", v)
		}
	})

	t.Run("switch to high happens on a keyframe", func(t *testing.T) {
		viewer.SetQuality(bot.LayerHigh)
		waitFor(t, 15*time.Second, "the viewer to receive the high layer", func() bool {
			v := video()
			return v.Layer == "high" && v.LayerFrames[bot.LayerHigh] >= wantVideoFrames/2
		}, viewer)
		v := video()
		if v.LayerSwitches == 0 {
			t.Errorf("no layer switch recorded: %+v", v)
		}
		if v.SwitchesOffKeyframe != 0 || !v.Decodable {
			t.Errorf("%d layer switches on a delta frame, decodable %v; want 0 and true", v.SwitchesOffKeyframe, v.Decodable)
		}
		// The old layer's frame in flight may be cut at the switch; the new
		// layer's keyframe of the same instant replaces it, so no frame
		// number is missing.
		if v.FramesLost != 0 || v.DecryptFailures != 0 {
			t.Errorf("lost %d, decrypt failures %d across the switch, want none", v.FramesLost, v.DecryptFailures)
		}
	})
}
