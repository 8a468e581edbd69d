package stream

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"

	"conclave/clients/phone/dtmf"
	"conclave/clients/phone/jitter"
	"conclave/clients/phone/media/resample"
	"conclave/clients/phone/sdp"
	"conclave/clients/phone/srtp"
)

// Rate is the gateway side's sampling rate; Frame one 20 ms frame at it.
const (
	Rate  = 48000
	Frame = Rate / 50
	tick  = 20 * time.Millisecond
)

// Config describes one call's media.
type Config struct {
	// Conn is the call's RTP socket (owned by the stream from Run on).
	Conn *net.UDPConn
	// Remote is where the phone's SDP says it receives RTP.
	Remote netip.AddrPort
	Choice sdp.Choice
	// SRTP protects the stream; nil for plain RTP.
	SRTP   *srtp.Session
	Logger *slog.Logger
}

// Stats counts a stream's packets.
type Stats struct {
	Sent, Received, Rejected, Concealed, Late int
	Jitter                                    time.Duration
}

// Stream is one call's media. Create with New, then Run.
type Stream struct {
	cfg   Config
	log   *slog.Logger
	codec codec
	up    *resample.Resampler // codec rate -> 48 kHz
	down  *resample.Resampler // 48 kHz -> codec rate
	// codecFrame is 20 ms at the codec's PCM rate.
	codecFrame int

	digits chan byte

	mu       sync.Mutex // guards the fields below
	jb       *jitter.Buffer
	remote   netip.AddrPort
	latched  bool
	ssrc     uint32 // of the phone's stream, once seen
	haveSSRC bool
	detector dtmf.Detector
	stats    Stats

	// sender state, used only by the ticker goroutine
	txSSRC uint32
	seq    uint16
	ts     uint32
	pcm    []int16 // decoded caller audio at 48 kHz, not yet handed up
}

// New prepares a stream.
func New(cfg Config) (*Stream, error) {
	c, err := newCodec(cfg.Choice.Codec)
	if err != nil {
		return nil, err
	}
	rate := cfg.Choice.Codec.SampleRate()
	up, err := resample.New(rate, Rate)
	if err != nil {
		c.close()
		return nil, err
	}
	down, err := resample.New(Rate, rate)
	if err != nil {
		c.close()
		return nil, err
	}
	var r [10]byte
	if _, err := rand.Read(r[:]); err != nil {
		c.close()
		return nil, fmt.Errorf("stream: random: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stream{
		cfg: cfg, log: log, codec: c, up: up, down: down,
		codecFrame: rate / 50,
		digits:     make(chan byte, 32),
		jb:         jitter.New(jitter.Config{ClockRate: cfg.Choice.Codec.ClockRate()}),
		remote:     cfg.Remote,
		txSSRC:     binary.BigEndian.Uint32(r[0:4]),
		seq:        binary.BigEndian.Uint16(r[4:6]),
		ts:         binary.BigEndian.Uint32(r[6:10]),
	}, nil
}

// Digits delivers the caller's key presses (RFC 4733 events; SIP INFO
// digits are added with Digit).
func (s *Stream) Digits() <-chan byte { return s.digits }

// Digit injects a digit received by SIP INFO.
func (s *Stream) Digit(d byte) {
	select {
	case s.digits <- d:
	default: // a caller typing faster than we read loses digits, not memory
	}
}

// Stats returns the counters.
func (s *Stream) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Concealed, st.Late, st.Jitter = s.jb.Concealed, s.jb.Late, s.jb.Jitter()
	return st
}

// Run moves media until ctx ends: every 20 ms, uplink gets the caller's
// audio (Frame samples at 48 kHz) and downlink fills the frame to send.
// Both are called from Run's ticker goroutine only.
func (s *Stream) Run(ctx context.Context, uplink func([]int16), downlink func([]int16)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer s.codec.close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		// Unblock the reader.
		_ = s.cfg.Conn.SetReadDeadline(time.Now())
	}()
	readErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		readErr <- s.read(ctx)
		cancel()
	}()
	t := time.NewTicker(tick)
	defer t.Stop()
	out := make([]int16, Frame)
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
			s.playout(uplink)
			downlink(out)
			if e := s.send(out); e != nil {
				s.log.Debug("rtp send failed", "err", e)
			}
		}
	}
	wg.Wait()
	if e := <-readErr; e != nil && !errors.Is(e, context.Canceled) {
		err = e
	}
	return err
}

func (s *Stream) read(ctx context.Context) error {
	buf := make([]byte, MaxDatagram+1)
	var dec []byte
	for {
		n, from, err := s.cfg.Conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("stream: read: %w", err)
		}
		now := time.Now()
		b := buf[:n]
		if n > MaxDatagram || IsRTCP(b) {
			continue // RTCP on the RTP port is not negotiated; ignore it
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		s.mu.Lock()
		expected := s.remote
		latched := s.latched
		s.mu.Unlock()
		if latched && from != expected {
			s.reject()
			continue
		}
		if s.cfg.SRTP != nil {
			dec, err = s.cfg.SRTP.UnprotectRTP(dec[:0], b)
			if err != nil {
				s.reject()
				continue
			}
			b = dec
		}
		p, err := ParseRTP(b)
		if err != nil {
			s.reject()
			continue
		}
		s.mu.Lock()
		if !s.latched {
			// Symmetric RTP: send to where the first good packet came
			// from (NAT), once.
			s.remote, s.latched = from, true
		}
		s.stats.Received++
		switch {
		case s.cfg.Choice.DTMF >= 0 && p.PayloadType == uint8(s.cfg.Choice.DTMF):
			d, ok, _ := s.detector.Packet(p.Timestamp, p.Payload)
			s.mu.Unlock()
			if ok {
				s.Digit(d)
			}
			continue
		case p.PayloadType == s.cfg.Choice.PT:
			if s.haveSSRC && p.SSRC != s.ssrc {
				s.jb.Reset() // the phone restarted its stream
			}
			s.ssrc, s.haveSSRC = p.SSRC, true
			s.jb.Push(p.SequenceNumber, p.Timestamp, p.Payload, now)
		default:
			s.stats.Rejected++
		}
		s.mu.Unlock()
	}
}

func (s *Stream) reject() {
	s.mu.Lock()
	s.stats.Rejected++
	s.mu.Unlock()
}

// playout decodes from the jitter buffer until 20 ms of caller audio is
// ready and hands it up (silence while buffering).
func (s *Stream) playout(uplink func([]int16)) {
	var codecPCM []int16
	for len(s.pcm) < Frame {
		s.mu.Lock()
		st, payload := s.jb.Pop()
		if st == jitter.Packet {
			payload = append([]byte(nil), payload...)
		}
		s.mu.Unlock()
		codecPCM = codecPCM[:0]
		switch st {
		case jitter.Buffering:
			codecPCM = append(codecPCM, make([]int16, s.codecFrame)...)
		case jitter.Lost:
			codecPCM = s.codec.conceal(codecPCM)
		case jitter.Packet:
			var err error
			codecPCM, err = s.codec.decode(codecPCM, payload)
			if err != nil {
				codecPCM = s.codec.conceal(codecPCM[:0])
			}
		}
		s.pcm = s.up.Process(s.pcm, codecPCM)
		if st == jitter.Buffering {
			break
		}
	}
	frame := make([]int16, Frame)
	n := copy(frame, s.pcm)
	s.pcm = append(s.pcm[:0], s.pcm[n:]...)
	uplink(frame)
}

func (s *Stream) send(pcm []int16) error {
	codecPCM := s.down.Process(nil, pcm)
	payload, err := s.codec.encode(nil, codecPCM)
	if err != nil {
		return err
	}
	p := rtp.Packet{
		Header: rtp.Header{
			Version: 2, PayloadType: s.cfg.Choice.PT,
			SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.txSSRC,
			Marker: s.stats.Sent == 0,
		},
		Payload: payload,
	}
	s.seq++
	s.ts += uint32(s.cfg.Choice.Codec.ClockRate() / 50)
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	if s.cfg.SRTP != nil {
		if b, err = s.cfg.SRTP.ProtectRTP(nil, b); err != nil {
			return err
		}
	}
	s.mu.Lock()
	to := s.remote
	s.stats.Sent++
	s.mu.Unlock()
	_, err = s.cfg.Conn.WriteToUDPAddrPort(b, to)
	return err
}
