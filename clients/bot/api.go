package bot

import (
	"fmt"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Codec parameters a browser offers for the media a bot sends and receives.
var (
	opusCodec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType:    webrtc.MimeTypeOpus,
			ClockRate:   48000,
			Channels:    2,
			SDPFmtpLine: "minptime=10;useinbandfec=1",
		},
		PayloadType: 111,
	}
	vp8Codec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType:  webrtc.MimeTypeVP8,
			ClockRate: 90000,
			// nack, nack pli and transport-cc are added by NewAPI's
			// interceptor configuration.
			RTCPFeedback: []webrtc.RTCPFeedback{
				{Type: webrtc.TypeRTCPFBGoogREMB},
				{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
			},
		},
		PayloadType: 96,
	}
)

// audioLevelURI is the client-to-mixer audio level extension of RFC 6464,
// which browsers send with Opus and SFUs read for active-speaker detection.
const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// APIOption changes how NewAPI builds the pion API.
type APIOption func(*apiConfig)

type apiConfig struct {
	settings *webrtc.SettingEngine
}

// WithSettingEngine makes NewAPI use s (for example to pin ICE to loopback,
// set UDP port ranges or mux many bots over one socket).
func WithSettingEngine(s *webrtc.SettingEngine) APIOption {
	return func(c *apiConfig) { c.settings = s }
}

// NewAPI returns a pion API configured like a browser for the bots: Opus and
// VP8 only, the mid, rid and audio-level header extensions, NACK, RTCP
// reports, and transport-wide congestion control sequence numbers and
// feedback. One API
// may be shared by any number of bots: pion copies its MediaEngine into each
// PeerConnection and builds interceptors per connection.
func NewAPI(opts ...APIOption) (*webrtc.API, error) {
	cfg := apiConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(opusCodec, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("bot: register opus: %w", err)
	}
	if err := m.RegisterCodec(vp8Codec, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("bot: register vp8: %w", err)
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.SDESMidURI}, kind); err != nil {
			return nil, fmt.Errorf("bot: register mid extension: %w", err)
		}
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.SDESRTPStreamIDURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("bot: register rid extension: %w", err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("bot: register audio level extension: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(m, ir); err != nil {
		return nil, fmt.Errorf("bot: nack: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("bot: rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, ir); err != nil {
		return nil, fmt.Errorf("bot: twcc: %w", err)
	}
	// Browsers answer the SFU's TWCC sequence numbers with transport-wide
	// feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01), which
	// its congestion control needs to choose layers.
	if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
		return nil, fmt.Errorf("bot: twcc feedback: %w", err)
	}
	apiOpts := []func(*webrtc.API){webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir)}
	if cfg.settings != nil {
		apiOpts = append(apiOpts, webrtc.WithSettingEngine(*cfg.settings))
	}
	return webrtc.NewAPI(apiOpts...), nil
}

// LoopbackSettings returns a SettingEngine that keeps ICE on loopback
// addresses over UDP and turns off mDNS, for tests and load tests on one
// machine: no packet leaves the host and no multicast socket is opened per
// connection.
func LoopbackSettings() *webrtc.SettingEngine {
	s := &webrtc.SettingEngine{}
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return s
}
