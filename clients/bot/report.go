package bot

import (
	"maps"
	"slices"
	"time"
)

// Report is what a bot measured. Its JSON form is what `conclave bot --json`
// prints and what the load tester aggregates.
type Report struct {
	Name           string `json:"name,omitempty"`
	Identity       string `json:"identity"`
	ParticipantSID string `json:"participant_sid"`

	// Sent: frames counts one per simulcast layer per video frame.
	FramesSent      uint64 `json:"frames_sent"`
	AudioFramesSent uint64 `json:"audio_frames_sent"`
	VideoFramesSent uint64 `json:"video_frames_sent"`
	KeyframesSent   uint64 `json:"keyframes_sent"`
	KeyframeReqs    uint64 `json:"keyframe_requests_received"`
	PacketsSent     uint64 `json:"packets_sent"`
	BytesSent       uint64 `json:"bytes_sent"`
	SealFailures    uint64 `json:"seal_failures"`

	// Received, summed over all tracks.
	FrameCounts
	LossRatio    float64 `json:"loss_ratio"`
	LatencyP50MS float64 `json:"latency_p50_ms"`
	LatencyP95MS float64 `json:"latency_p95_ms"`
	LatencyP99MS float64 `json:"latency_p99_ms"`
	LatencyMaxMS float64 `json:"latency_max_ms"`

	// ParticipantsSeen counts the other identities seen in the room.
	ParticipantsSeen int `json:"participants_seen"`
	// Participants is how many others are in the room now.
	Participants int `json:"participants"`
	// ConnectMS is from the start of joining to publishing (or, for a bot
	// that does not publish, to the join response).
	ConnectMS float64 `json:"connect_ms"`
	// JoinToFirstFrameMS is from the start of joining to the first decrypted
	// frame from anyone; zero if none arrived.
	JoinToFirstFrameMS float64 `json:"join_to_first_frame_ms"`
	Resumes            int     `json:"resumes"`
	SignalRTTMS        float64 `json:"signal_rtt_ms"`
	DurationS          float64 `json:"duration_s"`

	// Epoch and SecurityCode come from the MLS group keying the meeting;
	// empty before the bot joined the group.
	Epoch        string `json:"epoch"`
	SecurityCode string `json:"security_code"`
	// PhoneMembers are the phone gateways in the MLS roster: while there
	// is one, a client shows that audio is not end-to-end encrypted
	// beyond the gateway (DESIGN.md P4).
	PhoneMembers []PhoneMember `json:"phone_members"`

	Tracks []TrackReport `json:"tracks"`

	latency histogram
}

// FrameCounts are the counters of received packets and frames, kept per
// track (TrackReport) and summed over all tracks (Report). It is embedded
// in both, so its fields appear in their JSON form as if declared there.
type FrameCounts struct {
	PacketsReceived uint64 `json:"packets_received"`
	FramesReceived  uint64 `json:"frames_received"`
	FramesDecrypted uint64 `json:"frames_decrypted"`
	DecryptFailures uint64 `json:"decrypt_failures"`
	// FramesHeld counts frames that arrived before their key (a new
	// epoch's frames overtaking its MLS commit), or behind such a frame,
	// and were held until it came; FramesHeldDropped those of them whose
	// key never came in time. Neither is a decrypt failure.
	FramesHeld        uint64 `json:"frames_held"`
	FramesHeldDropped uint64 `json:"frames_held_dropped"`
	DuplicateFrames   uint64 `json:"duplicate_frames"`
	// NotBotPayload counts decrypted frames that are not a bot's test
	// payload (real media from a browser or a phone); they are included
	// in FramesDecrypted.
	NotBotPayload    uint64 `json:"frames_not_bot_payload"`
	FramesLost       uint64 `json:"frames_lost"`
	IncompleteFrames uint64 `json:"incomplete_frames"`
}

// Add adds o's counts to c's.
func (c *FrameCounts) Add(o FrameCounts) {
	c.PacketsReceived += o.PacketsReceived
	c.FramesReceived += o.FramesReceived
	c.FramesDecrypted += o.FramesDecrypted
	c.DecryptFailures += o.DecryptFailures
	c.FramesHeld += o.FramesHeld
	c.FramesHeldDropped += o.FramesHeldDropped
	c.DuplicateFrames += o.DuplicateFrames
	c.NotBotPayload += o.NotBotPayload
	c.FramesLost += o.FramesLost
	c.IncompleteFrames += o.IncompleteFrames
}

// TrackReport is what a bot measured for one received track.
type TrackReport struct {
	TrackSID       string `json:"track_sid"`
	ParticipantSID string `json:"participant_sid"`
	Participant    string `json:"participant"` // identity
	Kind           string `json:"kind"`
	FrameCounts
	LastSeq      uint32  `json:"last_seq"`
	LatencyP50MS float64 `json:"latency_p50_ms"`
	LatencyP99MS float64 `json:"latency_p99_ms"`
	// Layer is the simulcast layer of the last video frame received.
	Layer string `json:"layer,omitempty"`
	// LayerFrames counts received video frames per layer (low, medium, high).
	LayerFrames [3]uint64 `json:"layer_frames,omitempty"`
	// LayerSwitches counts changes of received layer; SwitchesOffKeyframe
	// counts those that did not happen on a keyframe (a decoder could not
	// show the new layer until its next keyframe).
	LayerSwitches       uint64 `json:"layer_switches"`
	SwitchesOffKeyframe uint64 `json:"switches_off_keyframe"`
	// FirstFrameKeyframe says whether the first video frame received was a
	// keyframe; Decodable whether a keyframe has arrived since the start
	// and the last layer change, i.e. whether a decoder shows the video.
	FirstFrameKeyframe bool `json:"first_frame_keyframe"`
	Decodable          bool `json:"decodable"`
	// PLIsSent counts keyframe requests the bot sent for this track.
	PLIsSent       uint64  `json:"plis_sent"`
	FirstFrameMS   float64 `json:"first_frame_ms"` // from subscription
	LastFrameAgoMS float64 `json:"last_frame_ago_ms"`
}

// Report returns what the bot measured so far.
func (b *Bot) Report() Report {
	now := time.Now()
	r := Report{
		Name:            b.cfg.Name,
		AudioFramesSent: b.stats.audioFramesSent.Load(),
		VideoFramesSent: b.stats.videoFramesSent.Load(),
		KeyframesSent:   b.stats.keyframesSent.Load(),
		KeyframeReqs:    b.stats.keyframeReqs.Load(),
		PacketsSent:     b.stats.packetsSent.Load(),
		BytesSent:       b.stats.bytesSent.Load(),
		SealFailures:    b.stats.sealFailures.Load(),
		DurationS:       now.Sub(b.joinStart).Seconds(),
	}
	r.FramesSent = r.AudioFramesSent + r.VideoFramesSent
	if !b.joinedAt.IsZero() {
		r.ConnectMS = ms(b.joinedAt.Sub(b.joinStart))
	}
	if ff := b.firstFrame.Load(); ff != 0 {
		r.JoinToFirstFrameMS = ms(time.Unix(0, ff).Sub(b.joinStart))
	}
	if ks, ok := b.cipher.(KeyStatus); ok {
		r.Epoch, r.SecurityCode = ks.Epoch(), ks.SecurityCode()
	}
	if e, ok := b.cipher.(*E2EE); ok {
		r.PhoneMembers = e.PhoneMembers()
	}

	b.mu.Lock()
	if b.self != nil {
		r.Identity, r.ParticipantSID = b.self.Identity, b.self.Sid
	}
	r.ParticipantsSeen = len(b.seen)
	r.Participants = len(b.participants)
	r.Resumes = b.resumes
	r.SignalRTTMS = ms(b.rtt)
	owner := maps.Clone(b.trackOwner)
	bySID := maps.Clone(b.sidIdentity)
	remote := slices.Clone(b.remote)
	b.mu.Unlock()

	for _, rt := range remote {
		rt.mu.Lock()
		tr := TrackReport{
			TrackSID:       rt.sid,
			ParticipantSID: rt.participantSID,
			Participant:    owner[rt.sid],
			Kind:           rt.kind.String(),
			FrameCounts: FrameCounts{
				PacketsReceived:   rt.packets,
				FramesReceived:    rt.framesReceived,
				FramesDecrypted:   rt.framesDecrypted,
				DecryptFailures:   rt.decryptFailures,
				FramesHeld:        rt.held,
				FramesHeldDropped: rt.heldDropped,
				DuplicateFrames:   rt.duplicates,
				NotBotPayload:     rt.notBotPayload,
				FramesLost:        rt.lost,
				IncompleteFrames:  rt.incomplete,
			},
			LastSeq:             rt.highest,
			LatencyP50MS:        ms(rt.latency.quantile(0.50)),
			LatencyP99MS:        ms(rt.latency.quantile(0.99)),
			LayerSwitches:       rt.switches,
			SwitchesOffKeyframe: rt.switchesOffKey,
			PLIsSent:            rt.plis,
		}
		if tr.Participant == "" {
			tr.Participant = bySID[rt.participantSID]
		}
		if rt.kind == KindVideo && rt.haveLayer {
			tr.Layer = rt.layer.String()
			tr.LayerFrames = rt.layerFrames
			tr.FirstFrameKeyframe = rt.firstKey
			tr.Decodable = !rt.waitingKey
		}
		if !rt.firstFrameAt.IsZero() {
			tr.FirstFrameMS = ms(rt.firstFrameAt.Sub(rt.subscribedAt))
			tr.LastFrameAgoMS = ms(now.Sub(rt.lastFrameAt))
		}
		r.latency.merge(&rt.latency)
		rt.mu.Unlock()

		r.FrameCounts.Add(tr.FrameCounts)
		r.Tracks = append(r.Tracks, tr)
	}
	if total := r.FramesDecrypted + r.FramesLost; total > 0 {
		r.LossRatio = float64(r.FramesLost) / float64(total)
	}
	r.LatencyP50MS = ms(r.latency.quantile(0.50))
	r.LatencyP95MS = ms(r.latency.quantile(0.95))
	r.LatencyP99MS = ms(r.latency.quantile(0.99))
	r.LatencyMaxMS = ms(r.latency.max)
	return r
}

// Latency returns the quantile q (0 < q <= 1) of end-to-end frame latency
// over every received track, for aggregating reports of many bots; merge
// with MergeLatency.
func (r *Report) Latency(q float64) time.Duration { return r.latency.quantile(q) }

// MergeLatency adds o's latency samples to r's.
func (r *Report) MergeLatency(o *Report) { r.latency.merge(&o.latency) }
