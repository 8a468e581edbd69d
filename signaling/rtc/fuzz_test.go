package rtc

import (
	"bytes"
	"errors"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/sdp/v3"
	"google.golang.org/protobuf/proto"
)

func seedRequests(f *testing.F) {
	reqs := []*livekit.SignalRequest{
		{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: vp8Offer, Id: 3}}},
		{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{CandidateInit: `{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host","sdpMid":"0"}`, Target: livekit.SignalTarget_SUBSCRIBER}}},
		{Message: &livekit.SignalRequest_AddTrack{AddTrack: &livekit.AddTrackRequest{Cid: "c", Type: livekit.TrackType_VIDEO, Encryption: livekit.Encryption_GCM,
			Layers: []*livekit.VideoLayer{{Quality: livekit.VideoQuality_LOW, Width: 320, Height: 180, Rid: "q"}}}}},
		{Message: &livekit.SignalRequest_TrackSetting{TrackSetting: &livekit.UpdateTrackSettings{TrackSids: []string{"TR_x"}, Quality: livekit.VideoQuality_HIGH}}},
		{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: 1, Rtt: 2}}},
		{Message: &livekit.SignalRequest_Leave{Leave: &livekit.LeaveRequest{Reason: livekit.DisconnectReason_CLIENT_INITIATED}}},
	}
	for _, r := range reqs {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(true, b)
	}
	f.Add(false, []byte(`{"pingReq":{"timestamp":"5"}}`))
	f.Add(false, []byte(`{"leave":{}}`))
	f.Add(true, []byte{0xb8, 0x3e, 0x01})
	f.Add(true, []byte{0xff, 0xff})
}

// FuzzDecodeRequest checks that decoding never panics, refuses what is
// oversized, and that every accepted request survives a re-encode/decode
// round trip unchanged.
func FuzzDecodeRequest(f *testing.F) {
	seedRequests(f)
	const max = 4096
	f.Fuzz(func(t *testing.T, binary bool, data []byte) {
		req, err := DecodeRequest(binary, data, max)
		if err != nil {
			if req != nil {
				t.Fatal("request returned with an error")
			}
			if len(data) > max && !errors.Is(err, ErrMessageTooLarge) {
				t.Fatalf("oversized message: %v", err)
			}
			return
		}
		if req.Message == nil {
			t.Fatal("accepted a request without a message")
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := DecodeRequest(true, b, 1<<20)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !proto.Equal(req, again) {
			t.Fatal("round trip changed the request")
		}
	})
}

// FuzzCheckOfferCodecs checks that the offer check never panics and gives
// the same verdict on the offer's re-serialisation.
func FuzzCheckOfferCodecs(f *testing.F) {
	f.Add(vp8Offer)
	f.Add(h264Offer)
	f.Add("v=0\r\n")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, offer string) {
		err := CheckOfferCodecs(offer)
		if err != nil && !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrNoSupportedCodec) {
			t.Fatalf("unexpected error class: %v", err)
		}
		if errors.Is(err, ErrBadSDP) {
			return
		}
		var sd sdp.SessionDescription
		if uerr := sd.UnmarshalString(offer); uerr != nil {
			t.Fatalf("check accepted an offer that does not parse: %v", uerr)
		}
		out, merr := sd.Marshal()
		if merr != nil {
			return
		}
		again := CheckOfferCodecs(string(out))
		if errors.Is(again, ErrBadSDP) {
			return // the SDP library does not always re-parse its own output
		}
		if (err == nil) != (again == nil) {
			t.Fatalf("verdict changed on re-serialisation: %v vs %v (%q)", err, again, bytes.TrimSpace(out))
		}
	})
}

func TestCheckOfferCodecs(t *testing.T) {
	tests := []struct {
		name  string
		offer string
		want  error
	}{
		{"opus and vp8", vp8Offer, nil},
		{"h264 only", h264Offer, ErrNoSupportedCodec},
		{"garbage", "hello", ErrBadSDP},
		{"recvonly h264 is fine", bytesReplace(h264Offer, "a=sendonly", "a=recvonly"), nil},
		{"rejected section is fine", bytesReplace(h264Offer, "m=video 9", "m=video 0"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckOfferCodecs(tc.offer)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CheckOfferCodecs = %v, want %v", err, tc.want)
			}
		})
	}
}

func bytesReplace(s, old, new string) string {
	return string(bytes.Replace([]byte(s), []byte(old), []byte(new), 1))
}

const sdpHead = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

const vp8Offer = sdpHead +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\na=rtpmap:102 H264/90000\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\n"

const h264Offer = sdpHead +
	"m=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:102 H264/90000\r\n"
