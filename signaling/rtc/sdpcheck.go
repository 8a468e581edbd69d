package rtc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
)

// ErrNoSupportedCodec is returned for an offer that sends audio or video in
// no codec the SFU forwards.
var ErrNoSupportedCodec = errors.New("no supported codec")

// ErrBadSDP is returned for an offer that does not parse.
var ErrBadSDP = errors.New("malformed SDP")

// maxSDPSize bounds an offer before parsing.
const maxSDPSize = 128 << 10

// CheckOfferCodecs parses a publisher offer (RFC 8866) and checks that every
// media section that sends audio or video offers Opus or VP8 (by rtpmap,
// RFC 8866 Section 6.6). It returns an error naming the first section that
// does not.
func CheckOfferCodecs(offer string) error {
	if len(offer) > maxSDPSize {
		return fmt.Errorf("%w: offer of %d bytes", ErrBadSDP, len(offer))
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	if len(sd.MediaDescriptions) > 64 {
		return fmt.Errorf("%w: %d media sections", ErrBadSDP, len(sd.MediaDescriptions))
	}
	for i, m := range sd.MediaDescriptions {
		kind := m.MediaName.Media
		if kind != "audio" && kind != "video" {
			continue
		}
		if m.MediaName.Port.Value == 0 || !sends(m) {
			continue
		}
		if !offersSupported(m, kind) {
			mid, _ := m.Attribute("mid")
			return fmt.Errorf("%w: the %s section %d (mid %q) offers none of %s", ErrNoSupportedCodec, kind, i, mid, supportedCodecNames)
		}
	}
	return nil
}

func sends(m *sdp.MediaDescription) bool {
	for _, a := range m.Attributes {
		switch a.Key {
		case "recvonly", "inactive":
			return false
		}
	}
	return true
}

func offersSupported(m *sdp.MediaDescription, kind string) bool {
	want := "opus/"
	if kind == "video" {
		want = "vp8/"
	}
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		// "<payload type> <encoding name>/<clock rate>[/<channels>]"
		_, enc, ok := strings.Cut(a.Value, " ")
		if ok && strings.HasPrefix(strings.ToLower(enc), want) {
			return true
		}
	}
	return false
}
