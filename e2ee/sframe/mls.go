package sframe

import (
	"fmt"
	"math/bits"
	"sync"
	"time"
)

// Exporter is the MLS exporter of the current epoch (RFC 9420, Section 8.5),
// MLS-Exporter(label, context, length). The MLS package satisfies it; this
// package never imports MLS.
type Exporter interface {
	Export(label string, context []byte, length int) ([]byte, error)
}

// BaseKeyLabel is the exporter label of RFC 9605, Section 5.2.
const BaseKeyLabel = "SFrame 1.0 Base Key"

// MLSBaseKey returns the epoch's SFrame base key,
// MLS-Exporter("SFrame 1.0 Base Key", "", AEAD.Nk) (RFC 9605, Section 5.2).
func MLSBaseKey(suite CipherSuite, exp Exporter) ([]byte, error) {
	if !suite.Valid() {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedSuite, suite)
	}
	k, err := exp.Export(BaseKeyLabel, nil, suite.KeySize())
	if err != nil {
		return nil, fmt.Errorf("sframe: mls exporter: %w", err)
	}
	if len(k) != suite.KeySize() {
		return nil, fmt.Errorf("%w: exporter returned %d bytes, want %d", ErrBadKey, len(k), suite.KeySize())
	}
	return k, nil
}

// KIDLayout splits a KID as RFC 9605, Section 5.2 says:
//
//	KID = (context << (S + E)) + (sender_index << E) + (epoch % (1 << E))
//
// EpochBits is E, IndexBits is S; the context ID takes the remaining
// 64-S-E bits. Every member of a meeting must use the same layout. The RFC
// makes S the smallest value with group_size <= 1<<S; a fixed S at least
// that large (IndexBitsFor gives the minimum) keeps KIDs stable while the
// group grows, which is what Conclave does.
type KIDLayout struct {
	// EpochBits (E, 1 to 16) is the number of low epoch bits sent; at most
	// 2^E epochs can be live at once, and a new epoch evicts the old one
	// with the same low bits.
	EpochBits uint8
	// IndexBits (S, 1 to 32) is the number of bits for the MLS leaf index.
	IndexBits uint8
}

// DefaultKIDLayout is Conclave's layout: 4 epoch bits (16 epochs in flight,
// far more than a grace period needs) and 10 index bits (1024 members, above
// the 100-person target), so context 0 KIDs fit in 2 header bytes.
var DefaultKIDLayout = KIDLayout{EpochBits: 4, IndexBits: 10}

// IndexBitsFor returns the smallest S with groupSize <= 1<<S (Section 5.2).
func IndexBitsFor(groupSize int) uint8 {
	if groupSize <= 1 {
		return 0
	}
	return uint8(bits.Len64(uint64(groupSize - 1)))
}

// Validate checks the field sizes.
func (l KIDLayout) Validate() error {
	if l.EpochBits < 1 || l.EpochBits > 16 || l.IndexBits < 1 || l.IndexBits > 32 {
		return fmt.Errorf("%w: E=%d S=%d (want 1<=E<=16, 1<=S<=32)", ErrBadLayout, l.EpochBits, l.IndexBits)
	}
	return nil
}

// KID builds the KID of a sender with leaf index index in epoch epoch,
// for its context ID context (0 gives the shortest KID).
func (l KIDLayout) KID(context uint64, index uint32, epoch uint64) (KeyID, error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	low := uint(l.EpochBits) + uint(l.IndexBits)
	if uint64(index)>>l.IndexBits != 0 {
		return 0, fmt.Errorf("%w: leaf index %d needs more than %d bits", ErrBadLayout, index, l.IndexBits)
	}
	if context>>(64-low) != 0 {
		return 0, fmt.Errorf("%w: context %d needs more than %d bits", ErrBadLayout, context, 64-low)
	}
	e := epoch & (1<<l.EpochBits - 1)
	return KeyID(context<<low | uint64(index)<<l.EpochBits | e), nil
}

// Split returns the context ID, leaf index and low epoch bits of kid.
func (l KIDLayout) Split(kid KeyID) (context uint64, index uint32, epochBits uint64) {
	v := uint64(kid)
	epochBits = v & (1<<l.EpochBits - 1)
	index = uint32(v >> l.EpochBits & (1<<l.IndexBits - 1))
	context = v >> (uint(l.EpochBits) + uint(l.IndexBits))
	return context, index, epochBits
}

// NewMLSSender returns the Sender of leaf index in epoch, for context ID
// context, keyed from the epoch's exporter (RFC 9605, Section 5.2). Make a
// new Sender for each epoch; distinct (index, context) pairs give distinct
// KIDs, so no two members share a key.
func NewMLSSender(suite CipherSuite, layout KIDLayout, exp Exporter, epoch uint64, index uint32, context uint64) (*Sender, error) {
	kid, err := layout.KID(context, index, epoch)
	if err != nil {
		return nil, err
	}
	base, err := MLSBaseKey(suite, exp)
	if err != nil {
		return nil, err
	}
	defer clear(base)
	return NewSender(suite, kid, base)
}

// MLSReceiver decrypts the frames of an MLS group (RFC 9605, Section 5.2).
// It holds the base key of each live epoch and derives, on first use, the key
// of each KID it sees, caching it with its replay window. When a new epoch
// is added, older epochs stay usable for a grace period; the caller's clock
// drives their retirement through Expire (there are no goroutines or timers).
// An MLSReceiver is safe for concurrent use.
type MLSReceiver struct {
	*Receiver
	layout KIDLayout
	grace  time.Duration

	mu     sync.Mutex
	epochs map[uint64]*mlsEpoch // by low epoch bits
}

type mlsEpoch struct {
	epoch    uint64
	baseKey  []byte
	retireAt time.Time // zero while current
}

// NewMLSReceiver returns an MLSReceiver with no epochs. grace is how long a
// previous epoch keeps decrypting after a newer one is added.
func NewMLSReceiver(suite CipherSuite, layout KIDLayout, grace time.Duration, opts ...ReceiverOption) (*MLSReceiver, error) {
	if err := layout.Validate(); err != nil {
		return nil, err
	}
	if grace < 0 {
		return nil, fmt.Errorf("sframe: negative grace period %v", grace)
	}
	r, err := NewReceiver(suite, opts...)
	if err != nil {
		return nil, err
	}
	m := &MLSReceiver{Receiver: r, layout: layout, grace: grace, epochs: make(map[uint64]*mlsEpoch)}
	r.source = m.baseKeyFor
	return m, nil
}

// baseKeyFor is the Receiver's baseKeySource. The receiver calls it holding
// r.mu; lock order is Receiver.mu then MLSReceiver.mu.
func (m *MLSReceiver) baseKeyFor(kid KeyID) ([]byte, uint64, bool) {
	_, _, low := m.layout.Split(kid)
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.epochs[low]
	if !ok {
		return nil, 0, false
	}
	return e.baseKey, e.epoch, true
}

// AddEpoch installs the base key of epoch from its exporter, at time now.
// Epochs older than it start their grace period now; an epoch with the same
// low bits is removed at once, as Section 5.2 requires. Adding an epoch not
// newer than the newest one is an error.
func (m *MLSReceiver) AddEpoch(epoch uint64, exp Exporter, now time.Time) error {
	base, err := MLSBaseKey(m.suite, exp)
	if err != nil {
		return fmt.Errorf("sframe: epoch %d: %w", epoch, err)
	}
	low := epoch & (1<<m.layout.EpochBits - 1)
	var drop []uint64
	m.mu.Lock()
	for l, e := range m.epochs {
		if e.epoch >= epoch {
			m.mu.Unlock()
			return fmt.Errorf("sframe: epoch %d is not newer than epoch %d", epoch, e.epoch)
		}
		if l == low {
			drop = append(drop, e.epoch)
			clear(e.baseKey)
			delete(m.epochs, l)
		} else if e.retireAt.IsZero() {
			e.retireAt = now.Add(m.grace)
		}
	}
	m.epochs[low] = &mlsEpoch{epoch: epoch, baseKey: base}
	m.mu.Unlock()
	for _, e := range drop {
		m.dropGroup(e)
	}
	return nil
}

// Expire removes the epochs whose grace period has ended by now, with every
// key derived from them.
func (m *MLSReceiver) Expire(now time.Time) {
	var drop []uint64
	m.mu.Lock()
	for l, e := range m.epochs {
		if !e.retireAt.IsZero() && !now.Before(e.retireAt) {
			drop = append(drop, e.epoch)
			clear(e.baseKey)
			delete(m.epochs, l)
		}
	}
	m.mu.Unlock()
	for _, e := range drop {
		m.dropGroup(e)
	}
}

// Epochs returns the epochs currently held, in no particular order.
func (m *MLSReceiver) Epochs() []uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]uint64, 0, len(m.epochs))
	for _, e := range m.epochs {
		out = append(out, e.epoch)
	}
	return out
}
