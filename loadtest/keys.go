package loadtest

import (
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"

	"conclave/clients/bot"
	"conclave/e2ee/sframe"
)

// benchSuite is the SFrame cipher suite the bots use (interfaces point 3).
const benchSuite = sframe.AES128GCMSHA256_128

// maxBenchKIDs bounds the keys a bench receiver derives: every participant
// of a run, including churn replacements, is a sender.
const maxBenchKIDs = 4 * maxParticipants

// benchKeys keys the SFrame encryption of one run's bots without MLS, so
// that the same media reaches Conclave and LiveKit (which has no MLS
// delivery service): one random base key per run, known only to the load
// generator, a random 63-bit KID per bot, and receivers that derive the key
// of any KID they see from the base key (RFC 9605, Section 4.4.2). It
// exercises exactly the SFrame framing and cost of a real meeting; what it
// leaves out is MLS (see --mls for Conclave).
type benchKeys struct {
	base []byte
}

func newBenchKeys() (*benchKeys, error) {
	k := make([]byte, benchSuite.KeySize())
	if _, err := crand.Read(k); err != nil {
		return nil, fmt.Errorf("loadtest: base key: %w", err)
	}
	return &benchKeys{base: k}, nil
}

// cipher returns a new participant's FrameCipher.
func (k *benchKeys) cipher() (bot.FrameCipher, error) {
	var b [8]byte
	if _, err := crand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("loadtest: KID: %w", err)
	}
	kid := sframe.KeyID(binary.BigEndian.Uint64(b[:]) >> 1)
	s, err := sframe.NewSender(benchSuite, kid, k.base)
	if err != nil {
		return nil, fmt.Errorf("loadtest: sender: %w", err)
	}
	r, err := sframe.NewReceiver(benchSuite, sframe.WithMaxKeys(maxBenchKIDs))
	if err != nil {
		return nil, fmt.Errorf("loadtest: receiver: %w", err)
	}
	return bot.NewSFrameCipher(s, &deriving{base: k.base, r: r, known: map[sframe.KeyID]bool{}}), nil
}

// deriving is a Decrypter that adds the key of a KID the first time a
// frame of it arrives.
type deriving struct {
	base []byte
	r    *sframe.Receiver

	mu    sync.Mutex
	known map[sframe.KeyID]bool
}

func (d *deriving) Decrypt(dst, metadata, frame []byte) ([]byte, error) {
	h, _, err := sframe.ParseHeader(frame)
	if err != nil {
		return nil, fmt.Errorf("loadtest: sframe header: %w", err)
	}
	d.mu.Lock()
	if !d.known[h.KID] {
		if len(d.known) >= maxBenchKIDs {
			d.mu.Unlock()
			return nil, fmt.Errorf("loadtest: more than %d senders", maxBenchKIDs)
		}
		if err := d.r.AddKey(h.KID, d.base); err != nil {
			d.mu.Unlock()
			return nil, fmt.Errorf("loadtest: derive key: %w", err)
		}
		d.known[h.KID] = true
	}
	d.mu.Unlock()
	return d.r.Decrypt(dst, metadata, frame)
}
