package bot

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// jsonKeys returns the keys of the JSON object b in the order they appear.
func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var keys []string
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %v %v", tok, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("key: %v", err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("value of %q: %v", tok, err)
		}
	}
	return keys
}

// TestReportJSONKeys pins the JSON form `conclave bot --json` prints and the
// load tester and integration tests read: the keys, their order, and that
// the embedded FrameCounts flattens into both Report and TrackReport.
func TestReportJSONKeys(t *testing.T) {
	counts := []string{
		"packets_received", "frames_received", "frames_decrypted", "decrypt_failures",
		"frames_held", "frames_held_dropped", "duplicate_frames", "frames_not_bot_payload",
		"frames_lost", "incomplete_frames",
	}
	report := slices.Concat([]string{
		"name", "identity", "participant_sid",
		"frames_sent", "audio_frames_sent", "video_frames_sent", "keyframes_sent",
		"keyframe_requests_received", "packets_sent", "bytes_sent", "seal_failures",
	}, counts, []string{
		"loss_ratio", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_max_ms",
		"participants_seen", "participants", "connect_ms", "join_to_first_frame_ms",
		"resumes", "signal_rtt_ms", "duration_s", "epoch", "security_code",
		"phone_members", "tracks",
	})
	track := slices.Concat([]string{
		"track_sid", "participant_sid", "participant", "kind",
	}, counts, []string{
		"last_seq", "latency_p50_ms", "latency_p99_ms", "layer", "layer_frames",
		"layer_switches", "switches_off_keyframe", "first_frame_keyframe", "decodable",
		"plis_sent", "first_frame_ms", "last_frame_ago_ms",
	})

	tr := TrackReport{Layer: "high", FrameCounts: FrameCounts{FramesHeld: 3}}
	r := Report{Name: "bot-1", Tracks: []TrackReport{tr}}
	r.Add(tr.FrameCounts)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	t.Run("report", func(t *testing.T) {
		if got := jsonKeys(t, b); !slices.Equal(got, report) {
			t.Errorf("keys\n got %q\nwant %q", got, report)
		}
	})
	t.Run("track", func(t *testing.T) {
		var raw struct{ Tracks []json.RawMessage }
		if err := json.Unmarshal(b, &raw); err != nil || len(raw.Tracks) != 1 {
			t.Fatalf("tracks: %v (%d)", err, len(raw.Tracks))
		}
		if got := jsonKeys(t, raw.Tracks[0]); !slices.Equal(got, track) {
			t.Errorf("keys\n got %q\nwant %q", got, track)
		}
	})
	t.Run("round trip", func(t *testing.T) {
		var back Report
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		if back.FramesHeld != 3 || back.Tracks[0].FramesHeld != 3 {
			t.Errorf("frames_held: report %d, track %d; want 3, 3", back.FramesHeld, back.Tracks[0].FramesHeld)
		}
	})
}

func TestFrameCountsAdd(t *testing.T) {
	a := FrameCounts{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	var sum FrameCounts
	sum.Add(a)
	sum.Add(a)
	want := FrameCounts{2, 4, 6, 8, 10, 12, 14, 16, 18, 20}
	if sum != want {
		t.Errorf("sum %+v, want %+v", sum, want)
	}
}
