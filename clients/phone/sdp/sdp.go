package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	pionsdp "github.com/pion/sdp/v3"
)

// Errors; the SIP layer answers 488 Not Acceptable Here to all of them.
var (
	ErrMalformed = errors.New("sdp: malformed offer")
	ErrTooLarge  = errors.New("sdp: offer too large")
	ErrNoAudio   = errors.New("sdp: no usable audio stream")
	ErrNoCodec   = errors.New("sdp: no supported codec")
	ErrInsecure  = errors.New("sdp: offer without SRTP where SRTP is required")
)

// MaxSize bounds an offer; real ones are under 2 KiB.
const MaxSize = 16 << 10

// Codec is an audio codec the gateway speaks.
type Codec uint8

// Codecs.
const (
	PCMU Codec = iota + 1
	PCMA
	G722
	Opus
)

// DefaultPreference: wideband first (RFC 3264, Section 6.1 lets the
// answerer choose among what is offered).
var DefaultPreference = []Codec{Opus, G722, PCMU, PCMA}

// Name returns the RTP encoding name (RFC 3551, Table 4; RFC 7587).
func (c Codec) Name() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	case G722:
		return "G722"
	case Opus:
		return "opus"
	}
	return "unknown"
}

func (c Codec) String() string { return c.Name() }

// ClockRate is the RTP timestamp rate: 8000 for G.722 despite its 16 kHz
// sampling (RFC 3551, Section 4.5.2), 48000 for Opus (RFC 7587,
// Section 4.1).
func (c Codec) ClockRate() int {
	if c == Opus {
		return 48000
	}
	return 8000
}

// SampleRate is the PCM rate of the codec's audio.
func (c Codec) SampleRate() int {
	switch c {
	case G722:
		return 16000
	case Opus:
		return 48000
	}
	return 8000
}

// Channels in the rtpmap (Opus is always declared /2, RFC 7587,
// Section 7).
func (c Codec) Channels() int {
	if c == Opus {
		return 2
	}
	return 1
}

// staticPT are RFC 3551's static payload types of our codecs.
var staticPT = map[uint8]Codec{0: PCMU, 8: PCMA, 9: G722}

// Format is one payload type of the offer.
type Format struct {
	PT       uint8
	Name     string
	Clock    int
	Channels int
	Fmtp     string
}

// Offer is what the gateway needs from a phone's offer.
type Offer struct {
	// Addr is where the phone receives RTP.
	Addr netip.AddrPort
	// Secure: the profile is RTP/SAVP.
	Secure bool
	// Formats in the phone's order.
	Formats []Format
	// Crypto holds the a=crypto values (RFC 4568).
	Crypto []string
	// Ptime is a=ptime in ms (0 if absent).
	Ptime int
}

// Parse reads an offer's first audio stream with a non-zero port.
func Parse(b []byte) (Offer, error) {
	if len(b) > MaxSize {
		return Offer{}, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	var sd pionsdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return Offer{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		proto := strings.Join(md.MediaName.Protos, "/")
		var o Offer
		switch proto {
		case "RTP/AVP":
		case "RTP/SAVP":
			o.Secure = true
		default:
			continue // RTP/SAVPF, UDP/TLS/RTP/SAVP (DTLS): not for desk phones
		}
		ci := md.ConnectionInformation
		if ci == nil {
			ci = sd.ConnectionInformation
		}
		if ci == nil || ci.Address == nil {
			return Offer{}, fmt.Errorf("%w: no connection address", ErrMalformed)
		}
		host := strings.SplitN(ci.Address.Address, "/", 2)[0]
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return Offer{}, fmt.Errorf("%w: connection address", ErrMalformed)
		}
		port := md.MediaName.Port.Value
		if port < 1 || port > 65535 {
			return Offer{}, fmt.Errorf("%w: port %d", ErrMalformed, port)
		}
		o.Addr = netip.AddrPortFrom(ip, uint16(port))

		byPT := map[uint8]*Format{}
		for _, f := range md.MediaName.Formats {
			pt, err := strconv.ParseUint(f, 10, 7)
			if err != nil {
				return Offer{}, fmt.Errorf("%w: payload type %q", ErrMalformed, f)
			}
			o.Formats = append(o.Formats, Format{PT: uint8(pt)})
		}
		for i := range o.Formats {
			f := &o.Formats[i]
			byPT[f.PT] = f
			if c, ok := staticPT[f.PT]; ok {
				f.Name, f.Clock, f.Channels = c.Name(), c.ClockRate(), 1
			}
		}
		for _, a := range md.Attributes {
			switch a.Key {
			case "rtpmap":
				pt, name, clock, ch, ok := parseRtpmap(a.Value)
				if f := byPT[pt]; ok && f != nil {
					f.Name, f.Clock, f.Channels = name, clock, ch
				}
			case "fmtp":
				ptS, rest, _ := strings.Cut(a.Value, " ")
				if pt, err := strconv.ParseUint(ptS, 10, 7); err == nil && byPT[uint8(pt)] != nil {
					byPT[uint8(pt)].Fmtp = rest
				}
			case "crypto":
				o.Crypto = append(o.Crypto, a.Value)
			case "ptime":
				if p, err := strconv.Atoi(a.Value); err == nil && p > 0 && p <= 200 {
					o.Ptime = p
				}
			}
		}
		return o, nil
	}
	return Offer{}, ErrNoAudio
}

func parseRtpmap(v string) (pt uint8, name string, clock, channels int, ok bool) {
	ptS, enc, found := strings.Cut(v, " ")
	if !found {
		return 0, "", 0, 0, false
	}
	p, err := strconv.ParseUint(ptS, 10, 7)
	if err != nil {
		return 0, "", 0, 0, false
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, "", 0, 0, false
	}
	clock, err = strconv.Atoi(parts[1])
	if err != nil || clock <= 0 || clock > 192000 {
		return 0, "", 0, 0, false
	}
	channels = 1
	if len(parts) == 3 {
		channels, err = strconv.Atoi(parts[2])
		if err != nil || channels < 1 || channels > 8 {
			return 0, "", 0, 0, false
		}
	}
	return uint8(p), parts[0], clock, channels, true
}

// Choice is the negotiated stream.
type Choice struct {
	Codec Codec
	PT    uint8
	// DTMF is the telephone-event payload type, or −1 if the phone
	// offered none (then only SIP INFO carries digits); DTMFClock its
	// clock rate. RFC 4733, Section 2.1 wants the audio codec's rate, but
	// some phones (baresip with Opus) offer only telephone-event/8000:
	// it is accepted, since the gateway uses event timestamps only to
	// tell presses apart.
	DTMF      int
	DTMFClock int
	// Ptime is the packet duration we send and answer with, in ms.
	Ptime int
}

func matches(f Format, c Codec) bool {
	return strings.EqualFold(f.Name, c.Name()) && f.Clock == c.ClockRate()
}

// Negotiate picks a codec from the offer by preference.
func Negotiate(o Offer, prefs []Codec) (Choice, error) {
	if len(prefs) == 0 {
		prefs = DefaultPreference
	}
	for _, c := range prefs {
		for _, f := range o.Formats {
			if !matches(f, c) {
				continue
			}
			ch := Choice{Codec: c, PT: f.PT, DTMF: -1, Ptime: 20}
			for _, t := range o.Formats {
				if !strings.EqualFold(t.Name, "telephone-event") {
					continue
				}
				if ch.DTMF < 0 || t.Clock == c.ClockRate() && ch.DTMFClock != c.ClockRate() {
					ch.DTMF, ch.DTMFClock = int(t.PT), t.Clock
				}
			}
			return ch, nil
		}
	}
	return Choice{}, ErrNoCodec
}

// Answer holds what the gateway puts in its answer.
type Answer struct {
	Choice
	// Addr is where the gateway receives RTP.
	Addr netip.AddrPort
	// SessionID and Version are the o= line's numbers (RFC 8866,
	// Section 5.2); Version grows when the answer changes.
	SessionID, Version uint64
	// Crypto is the a=crypto value for RTP/SAVP, empty for RTP/AVP.
	Crypto string
}

// Marshal writes the answer.
func (a Answer) Marshal() []byte {
	ipv := "IP4"
	if a.Addr.Addr().Is6() {
		ipv = "IP6"
	}
	proto := "RTP/AVP"
	if a.Crypto != "" {
		proto = "RTP/SAVP"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=conclave %d %d IN %s %s\r\ns=conclave\r\nc=IN %s %s\r\nt=0 0\r\n",
		a.SessionID, a.Version, ipv, a.Addr.Addr(), ipv, a.Addr.Addr())
	fmt.Fprintf(&b, "m=audio %d %s %d", a.Addr.Port(), proto, a.PT)
	if a.DTMF >= 0 {
		fmt.Fprintf(&b, " %d", a.DTMF)
	}
	b.WriteString("\r\n")
	if a.Codec.Channels() > 1 {
		fmt.Fprintf(&b, "a=rtpmap:%d %s/%d/%d\r\n", a.PT, a.Codec.Name(), a.Codec.ClockRate(), a.Codec.Channels())
	} else {
		fmt.Fprintf(&b, "a=rtpmap:%d %s/%d\r\n", a.PT, a.Codec.Name(), a.Codec.ClockRate())
	}
	if a.Codec == Opus {
		// RFC 7587, Section 6.1: we send and want mono, with FEC.
		fmt.Fprintf(&b, "a=fmtp:%d useinbandfec=1;stereo=0;sprop-stereo=0\r\n", a.PT)
	}
	if a.DTMF >= 0 {
		clock := a.DTMFClock
		if clock == 0 {
			clock = a.Codec.ClockRate()
		}
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/%d\r\na=fmtp:%d 0-16\r\n", a.DTMF, clock, a.DTMF)
	}
	fmt.Fprintf(&b, "a=ptime:%d\r\n", a.Ptime)
	if a.Crypto != "" {
		fmt.Fprintf(&b, "a=crypto:%s\r\n", a.Crypto)
	}
	b.WriteString("a=sendrecv\r\n")
	return []byte(b.String())
}
