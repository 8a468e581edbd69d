package dtmf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors.
var (
	// ErrShort: an event payload is not 4 bytes long.
	ErrShort = errors.New("dtmf: telephone-event payload too short")
	// ErrNotDigit: the event or body is not a keypad digit (0-9, *, #,
	// A-D).
	ErrNotDigit = errors.New("dtmf: not a keypad event")
	// ErrBody: an INFO body has no usable Signal.
	ErrBody = errors.New("dtmf: malformed INFO body")
)

// Event is one RFC 4733 telephone-event payload (Section 2.3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Event struct {
	Code     uint8 // event code (Section 3.2: 0-9, 10 = *, 11 = #, 12-15 = A-D)
	End      bool  // E bit
	Volume   uint8 // 0-63, in −dBm0
	Duration uint16
}

// ParseEvent decodes a telephone-event payload. Extra bytes (RFC 4733
// allows several events per packet in redundancy, Section 2.5.1.5) are
// ignored: the first event is the current one.
func ParseEvent(b []byte) (Event, error) {
	if len(b) < 4 {
		return Event{}, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	return Event{
		Code:     b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3f,
		Duration: binary.BigEndian.Uint16(b[2:4]),
	}, nil
}

// Marshal appends the payload encoding of e.
func (e Event) Marshal(dst []byte) []byte {
	f := e.Volume & 0x3f
	if e.End {
		f |= 0x80
	}
	return append(dst, e.Code, f, byte(e.Duration>>8), byte(e.Duration))
}

const digits = "0123456789*#ABCD"

// Digit returns the keypad character of an event code (RFC 4733,
// Section 3.2, Table 3).
func Digit(code uint8) (byte, error) {
	if int(code) >= len(digits) {
		return 0, fmt.Errorf("%w: event %d", ErrNotDigit, code)
	}
	return digits[code], nil
}

// Code returns the event code of a keypad character.
func Code(d byte) (uint8, error) {
	i := strings.IndexByte(digits, d)
	if i < 0 {
		return 0, fmt.Errorf("%w: %q", ErrNotDigit, d)
	}
	return uint8(i), nil
}

// Detector turns a stream of telephone-event packets into key presses.
// One press is many packets sharing an RTP timestamp (RFC 4733,
// Section 2.5.1.3), the last ones with E set and often sent three times
// (Section 2.5.1.4); a press is reported once, on its first packet, so
// that a lost end packet does not lose the digit.
type Detector struct {
	seen    bool
	lastTS  uint32
	lastKey uint8
}

// Packet feeds one event packet with its RTP timestamp and returns the
// digit it starts, if any.
func (d *Detector) Packet(ts uint32, payload []byte) (byte, bool, error) {
	ev, err := ParseEvent(payload)
	if err != nil {
		return 0, false, err
	}
	digit, err := Digit(ev.Code)
	if err != nil {
		return 0, false, err
	}
	if d.seen && ts == d.lastTS && ev.Code == d.lastKey {
		return 0, false, nil // the same press, continued or ended
	}
	d.seen, d.lastTS, d.lastKey = true, ts, ev.Code
	return digit, true, nil
}

// maxInfoBody bounds the INFO bodies we read; real ones are ~30 bytes.
const maxInfoBody = 1024

// ParseInfo reads the digit of a SIP INFO body of content type
// application/dtmf-relay ("Signal=5\r\nDuration=160\r\n") or
// application/dtmf (the digit alone).
func ParseInfo(contentType string, body []byte) (byte, error) {
	if len(body) > maxInfoBody {
		return 0, fmt.Errorf("%w: %d bytes", ErrBody, len(body))
	}
	ct := strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	switch ct {
	case "application/dtmf":
		return infoDigit(strings.TrimSpace(string(body)))
	case "application/dtmf-relay":
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				return infoDigit(strings.TrimSpace(v))
			}
		}
		return 0, fmt.Errorf("%w: no Signal line", ErrBody)
	}
	return 0, fmt.Errorf("%w: content type %q", ErrBody, ct)
}

func infoDigit(v string) (byte, error) {
	if len(v) == 1 {
		d := v[0]
		if d >= 'a' && d <= 'd' {
			d -= 'a' - 'A'
		}
		if _, err := Code(d); err != nil {
			return 0, err
		}
		return d, nil
	}
	// Some phones send the event number ("Signal=10" for *).
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 15 {
		return 0, fmt.Errorf("%w: signal %q", ErrNotDigit, v)
	}
	return digits[n], nil
}
