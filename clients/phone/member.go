package phone

import (
	"context"
	"fmt"
	"sync"
	"time"

	"conclave/clients/phone/dialin"
	"conclave/clients/phone/media/opus"
	"conclave/clients/phone/mix"
)

// AudioFrame is one member's decrypted Opus frame.
type AudioFrame struct {
	// From identifies the sending member (its participant identity).
	From string
	Opus []byte
}

// MemberClient is the gateway member as a meeting client provides it: an
// admitted MLS member of kind "phone gateway" that publishes and receives
// SFrame-encrypted Opus (clients/bot, once it takes an audio source and
// sink).
type MemberClient interface {
	// SendOpus publishes one 20 ms Opus frame; the client encrypts it.
	SendOpus(frame []byte) error
	// Audio delivers the other members' decrypted audio frames; it is
	// closed when the client ends.
	Audio() <-chan AudioFrame
	// Done is closed when the member is removed or the meeting ends.
	Done() <-chan struct{}
	// Close leaves the meeting.
	Close()
}

// DialFunc knocks on room as the gateway member for caller and returns once
// admitted, with ErrRefused, ErrPhonesForbidden or ErrMeetingGone
// otherwise. It must check the meeting's "phones forbidden" group context
// extension right after the Welcome and leave before sending anything.
type DialFunc func(ctx context.Context, room dialin.Room, caller Caller) (MemberClient, error)

// MemberMeetings implements Meetings over a DialFunc: it transcodes
// between the call's 48 kHz PCM and the meeting's Opus, one decoder per
// sending member so their streams never share codec state.
type MemberMeetings struct {
	Dial DialFunc
	// Bitrate of the phone's Opus stream (default 32 kbit/s).
	Bitrate int
}

// maxTalkers bounds the decoders of one leg (a meeting has at most a few
// hundred members); idleTalker is when a silent member's decoder goes.
const (
	maxTalkers = 256
	idleTalker = 30 * time.Second
)

// Join knocks and, once admitted, starts the leg's receive goroutine.
func (m MemberMeetings) Join(ctx context.Context, room dialin.Room, caller Caller, sink *mix.Mixer) (Leg, error) {
	c, err := m.Dial(ctx, room, caller)
	if err != nil {
		return nil, err
	}
	bitrate := m.Bitrate
	if bitrate <= 0 {
		bitrate = 32000
	}
	enc, err := opus.NewEncoder(bitrate)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("phone: leg encoder: %w", err)
	}
	l := &memberLeg{c: c, enc: enc, sink: sink, done: make(chan struct{})}
	l.wg.Add(1)
	go l.receive()
	return l, nil
}

type memberLeg struct {
	c    MemberClient
	sink *mix.Mixer
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	sendMu sync.Mutex
	enc    *opus.Encoder
	buf    []byte
}

type talker struct {
	dec  *opus.Decoder
	last time.Time
}

// receive decodes every member's frames into the mix until the client's
// audio ends.
func (l *memberLeg) receive() {
	defer l.wg.Done()
	defer l.once.Do(func() { close(l.done) })
	talkers := map[string]*talker{}
	defer func() {
		for id, t := range talkers {
			t.dec.Close()
			l.sink.Remove(id)
		}
	}()
	var pcm []int16
	sweep := time.NewTicker(idleTalker / 2)
	defer sweep.Stop()
	for {
		select {
		case <-l.c.Done():
			return
		case now := <-sweep.C:
			for id, t := range talkers {
				if now.Sub(t.last) > idleTalker {
					t.dec.Close()
					delete(talkers, id)
					l.sink.Remove(id)
				}
			}
		case f, ok := <-l.c.Audio():
			if !ok {
				return
			}
			t := talkers[f.From]
			if t == nil {
				if len(talkers) >= maxTalkers {
					continue
				}
				dec, err := opus.NewDecoder()
				if err != nil {
					continue
				}
				t = &talker{dec: dec}
				talkers[f.From] = t
			}
			t.last = time.Now()
			var err error
			pcm, err = t.dec.Decode(pcm[:0], f.Opus)
			if err != nil {
				continue // a corrupt frame: drop it, keep the talker
			}
			l.sink.Write(f.From, pcm)
		}
	}
}

// Send encodes one frame of the phone's audio and publishes it; nil (muted)
// sends nothing, so the members' clients see the phone stop talking.
func (l *memberLeg) Send(pcm []int16) error {
	if pcm == nil {
		return nil
	}
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	if l.enc == nil {
		return ErrMeetingGone
	}
	var err error
	l.buf, err = l.enc.Encode(l.buf[:0], pcm)
	if err != nil {
		return err
	}
	return l.c.SendOpus(l.buf)
}

func (l *memberLeg) Done() <-chan struct{} { return l.done }

// Close leaves the meeting and waits for the receive goroutine.
func (l *memberLeg) Close() {
	l.c.Close()
	l.wg.Wait()
	l.sendMu.Lock()
	if l.enc != nil {
		l.enc.Close()
		l.enc = nil
	}
	l.sendMu.Unlock()
}
