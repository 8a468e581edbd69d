package stream

import (
	"errors"
	"fmt"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// MaxDatagram bounds what is read from the socket.
const MaxDatagram = 1500

// Errors.
var (
	ErrPacket = errors.New("stream: malformed packet")
)

// IsRTCP tells RTCP from RTP on one port by the packet type octet
// (RFC 5761, Section 4: RTCP types 192-223 never collide with the payload
// types in use).
func IsRTCP(b []byte) bool {
	return len(b) >= 2 && b[1] >= 192 && b[1] <= 223
}

// ParseRTP decodes an RTP packet (RFC 3550, Section 5.1) of version 2.
func ParseRTP(b []byte) (rtp.Packet, error) {
	var p rtp.Packet
	if len(b) > MaxDatagram || len(b) < 12 {
		return p, fmt.Errorf("%w: %d bytes", ErrPacket, len(b))
	}
	if b[0]>>6 != 2 {
		return p, fmt.Errorf("%w: version %d", ErrPacket, b[0]>>6)
	}
	if err := p.Unmarshal(b); err != nil {
		return p, fmt.Errorf("%w: %w", ErrPacket, err)
	}
	return p, nil
}

// ParseRTCP decodes a compound RTCP packet (RFC 3550, Section 6).
func ParseRTCP(b []byte) ([]rtcp.Packet, error) {
	if len(b) > MaxDatagram || len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrPacket, len(b))
	}
	ps, err := rtcp.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPacket, err)
	}
	return ps, nil
}
