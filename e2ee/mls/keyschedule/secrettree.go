package keyschedule

import (
	"fmt"
	"io"
	"log/slog"
	"math"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/treemath"
)

// RatchetType selects one of a leaf's two hash ratchets (RFC 9420, Section 9).
type RatchetType uint8

const (
	// Handshake is the ratchet for Proposal and Commit content.
	Handshake RatchetType = iota + 1
	// Application is the ratchet for application data.
	Application
)

func (r RatchetType) String() string {
	switch r {
	case Handshake:
		return "handshake"
	case Application:
		return "application"
	default:
		return fmt.Sprintf("RatchetType(%d)", uint8(r))
	}
}

// Defaults for Config.
const (
	// DefaultMaxForward is how many generations a receiving ratchet may jump
	// ahead in one message.
	DefaultMaxForward = 1024
	// DefaultMaxRetained is how many unused keys a ratchet keeps for
	// out-of-order messages.
	DefaultMaxRetained = 128
)

// Config bounds the work and memory an out-of-order or hostile sender can
// cause (RFC 9420, Sections 9.2 and 15.4).
type Config struct {
	// MaxForward is the largest gap between a ratchet's next generation and
	// a received generation; larger gaps fail with ErrGenerationTooFar.
	// Zero means DefaultMaxForward.
	MaxForward uint32
	// MaxRetained is the number of skipped keys kept per ratchet for
	// out-of-order messages; the oldest generations are deleted first.
	// Zero means DefaultMaxRetained.
	MaxRetained int
}

func (c Config) withDefaults() Config {
	if c.MaxForward == 0 {
		c.MaxForward = DefaultMaxForward
	}
	if c.MaxRetained <= 0 {
		c.MaxRetained = DefaultMaxRetained
	}
	return c
}

// KeyNonce is one step of a ratchet: the AEAD key and nonce for a generation
// (RFC 9420, Section 9.1). The nonce has not been XORed with a reuse guard.
type KeyNonce struct {
	Generation uint32
	Key        Secret
	Nonce      Secret
}

func (k *KeyNonce) wipe() {
	wipe(k.Key)
	wipe(k.Nonce)
}

// ratchet is one sender ratchet: secret is ratchet_secret_[N]_[next]; skipped
// holds keys of generations below next that were derived but not used yet.
type ratchet struct {
	secret    Secret
	next      uint32
	exhausted bool // every generation up to 2^32-1 has been derived
	skipped   map[uint32]KeyNonce
	order     []uint32 // generations in skipped, oldest first (may hold erased ones)
}

// SecretTree is the secret tree of one epoch (RFC 9420, Section 9). It
// derives node secrets lazily from encryption_secret, deleting each parent's
// secret once its children are derived, and each ratchet secret once the next
// one is (Section 9.2). It is not safe for concurrent use.
type SecretTree struct {
	suite    *ciphersuite.Suite
	n        treemath.LeafCount
	cfg      Config
	nodes    map[treemath.NodeIndex]Secret
	ratchets map[ratchetKey]*ratchet
}

type ratchetKey struct {
	leaf uint32
	typ  RatchetType
}

// NewSecretTree returns the secret tree for a group of leafCount leaves (a
// power of two, RFC 9420, Section 7.7) rooted at encryptionSecret, which it
// copies.
func NewSecretTree(suite *ciphersuite.Suite, encryptionSecret []byte, leafCount uint32, cfg Config) (*SecretTree, error) {
	n := treemath.LeafCount(leafCount)
	if !n.Valid() {
		return nil, fmt.Errorf("keyschedule: secret tree of %d leaves: not a power of two", leafCount)
	}
	if len(encryptionSecret) != suite.Nh() {
		return nil, fmt.Errorf("%w: encryption_secret of %d bytes", ErrSecretSize, len(encryptionSecret))
	}
	return &SecretTree{
		suite:    suite,
		n:        n,
		cfg:      cfg.withDefaults(),
		nodes:    map[treemath.NodeIndex]Secret{n.Root(): append(Secret(nil), encryptionSecret...)},
		ratchets: make(map[ratchetKey]*ratchet),
	}, nil
}

// LeafCount returns the number of leaves the tree was built for.
func (t *SecretTree) LeafCount() uint32 { return uint32(t.n) }

// leafPlan is the change deriving a leaf's ratchets makes to the tree
// (RFC 9420, Section 9): the lowest stored ancestor of the leaf (or the leaf
// itself) is consumed, the siblings of the path below it are stored, and the
// leaf's two ratchets are created. Planning changes nothing, so that a
// message that fails to decrypt leaves the tree exactly as it was.
type leafPlan struct {
	leaf     uint32
	consumed treemath.NodeIndex
	siblings map[treemath.NodeIndex]Secret
	ratchets map[RatchetType]*ratchet
}

// planLeaf derives tree_node_[leaf]_secret from the lowest stored ancestor
// and the leaf's handshake and application ratchets from it, without
// changing t.
func (t *SecretTree) planLeaf(leaf uint32) (*leafPlan, error) {
	target := treemath.LeafIndex(leaf).Node()
	// The lowest stored node on the way from the root to the target.
	path := append([]treemath.NodeIndex{target}, treemath.DirectPath(target, t.n)...)
	top := -1
	for i, x := range path {
		if _, ok := t.nodes[x]; ok {
			top = i
			break
		}
	}
	if top < 0 {
		// Both ratchets are created together, so this cannot happen.
		return nil, fmt.Errorf("keyschedule: leaf %d secret consumed without ratchets", leaf)
	}
	p := &leafPlan{leaf: leaf, consumed: path[top], siblings: make(map[treemath.NodeIndex]Secret)}
	secret := t.nodes[path[top]]
	owned := false
	for i := top; i > 0; i-- {
		x, child := path[i], path[i-1]
		left, err := treemath.Left(x)
		if err != nil {
			p.discard()
			return nil, fmt.Errorf("keyschedule: secret tree: %w", err)
		}
		right, err := treemath.Right(x)
		if err != nil {
			p.discard()
			return nil, fmt.Errorf("keyschedule: secret tree: %w", err)
		}
		l, err := t.suite.ExpandWithLabel(secret, "tree", []byte("left"), t.suite.Nh())
		if err != nil {
			p.discard()
			return nil, fmt.Errorf("keyschedule: secret tree: %w", err)
		}
		r, err := t.suite.ExpandWithLabel(secret, "tree", []byte("right"), t.suite.Nh())
		if err != nil {
			wipe(l)
			p.discard()
			return nil, fmt.Errorf("keyschedule: secret tree: %w", err)
		}
		if owned {
			wipe(secret)
		}
		if child == left {
			secret, p.siblings[right] = l, r
		} else {
			secret, p.siblings[left] = r, l
		}
		owned = true
	}
	if owned {
		defer wipe(secret)
	}
	p.ratchets = make(map[RatchetType]*ratchet, 2)
	for _, rt := range []RatchetType{Handshake, Application} {
		root, err := t.suite.ExpandWithLabel(secret, rt.String(), nil, t.suite.Nh())
		if err != nil {
			p.discard()
			return nil, fmt.Errorf("keyschedule: %v ratchet of leaf %d: %w", rt, leaf, err)
		}
		p.ratchets[rt] = &ratchet{secret: root, skipped: make(map[uint32]KeyNonce)}
	}
	return p, nil
}

// apply makes the planned change: the consumed node's secret is deleted,
// the siblings and ratchets are stored.
func (t *SecretTree) apply(p *leafPlan) {
	if p == nil {
		return
	}
	wipe(t.nodes[p.consumed])
	delete(t.nodes, p.consumed)
	for x, s := range p.siblings {
		t.nodes[x] = s
	}
	for rt, r := range p.ratchets {
		t.ratchets[ratchetKey{p.leaf, rt}] = r
	}
}

// discard wipes the secrets of a plan that will not be applied.
func (p *leafPlan) discard() {
	if p == nil {
		return
	}
	for _, s := range p.siblings {
		wipe(s)
	}
	for _, r := range p.ratchets {
		wipe(r.secret)
		for _, kn := range r.skipped {
			kn.wipe()
		}
	}
}

// lookup returns the leaf's ratchet of type typ and, if the leaf's ratchets
// do not exist yet, the plan that creates them (not yet applied).
func (t *SecretTree) lookup(leaf uint32, typ RatchetType) (*ratchet, *leafPlan, error) {
	if typ != Handshake && typ != Application {
		return nil, nil, fmt.Errorf("keyschedule: unknown ratchet type %d", typ)
	}
	if !t.n.ContainsLeaf(treemath.LeafIndex(leaf)) {
		return nil, nil, fmt.Errorf("%w: leaf %d of %d", ErrLeafOutOfRange, leaf, t.n)
	}
	if r, ok := t.ratchets[ratchetKey{leaf, typ}]; ok {
		return r, nil, nil
	}
	p, err := t.planLeaf(leaf)
	if err != nil {
		return nil, nil, err
	}
	return p.ratchets[typ], p, nil
}

// ratchetFor returns the leaf's ratchet of type typ, creating both of the
// leaf's ratchets from its tree secret on first use (RFC 9420, Section 9).
func (t *SecretTree) ratchetFor(leaf uint32, typ RatchetType) (*ratchet, error) {
	r, p, err := t.lookup(leaf, typ)
	if err != nil {
		return nil, err
	}
	t.apply(p)
	return r, nil
}

// step derives the key and nonce of generation gen from ratchet_secret gen,
// and ratchet_secret gen+1 (RFC 9420, Section 9.1).
func (t *SecretTree) step(secret Secret, gen uint32) (KeyNonce, Secret, error) {
	nonce, err := t.suite.DeriveTreeSecret(secret, "nonce", gen, t.suite.AEADNonceSize())
	if err != nil {
		return KeyNonce{}, nil, fmt.Errorf("keyschedule: ratchet nonce: %w", err)
	}
	key, err := t.suite.DeriveTreeSecret(secret, "key", gen, t.suite.AEADKeySize())
	if err != nil {
		return KeyNonce{}, nil, fmt.Errorf("keyschedule: ratchet key: %w", err)
	}
	next, err := t.suite.DeriveTreeSecret(secret, "secret", gen, t.suite.Nh())
	if err != nil {
		return KeyNonce{}, nil, fmt.Errorf("keyschedule: ratchet secret: %w", err)
	}
	return KeyNonce{Generation: gen, Key: key, Nonce: nonce}, next, nil
}

// Next returns the key and nonce for the next message the member sends on its
// own leaf's ratchet, and advances the ratchet: the returned key is consumed
// by the caller's encryption and is not retained (RFC 9420, Sections 9.1 and
// 9.2).
func (t *SecretTree) Next(leaf uint32, typ RatchetType) (KeyNonce, error) {
	r, err := t.ratchetFor(leaf, typ)
	if err != nil {
		return KeyNonce{}, err
	}
	if r.exhausted {
		return KeyNonce{}, ErrGenerationExhausted
	}
	kn, next, err := t.step(r.secret, r.next)
	if err != nil {
		return KeyNonce{}, err
	}
	t.advance(r, next)
	return kn, nil
}

// advance replaces the ratchet's secret with next and moves to the next
// generation.
func (t *SecretTree) advance(r *ratchet, next Secret) {
	wipe(r.secret)
	r.secret = next
	if r.next == math.MaxUint32 {
		r.exhausted = true
		wipe(r.secret)
		r.secret = nil
		return
	}
	r.next++
}

// Consume looks up the key and nonce of a received message's generation on
// leaf's ratchet and calls use with them. If use returns nil the key is
// deleted (RFC 9420, Section 9.2: a key used to decrypt is consumed), the
// ratchet moves past the generation, and keys skipped on the way are kept,
// up to Config.MaxRetained, for out-of-order messages. If use fails, for
// example because the message does not decrypt, the tree is left as it was
// and the error is returned unchanged.
//
// Generations already consumed or evicted fail with ErrGenerationConsumed;
// generations more than Config.MaxForward ahead fail with
// ErrGenerationTooFar.
func (t *SecretTree) Consume(leaf uint32, typ RatchetType, generation uint32, use func(key, nonce []byte) error) error {
	r, p, err := t.lookup(leaf, typ)
	if err != nil {
		return err
	}
	// A leaf's ratchets are created only if the message is accepted.
	if err := t.consume(r, leaf, typ, generation, use); err != nil {
		p.discard()
		return err
	}
	t.apply(p)
	return nil
}

// consume is Consume on ratchet r; it changes r only if use succeeds.
func (t *SecretTree) consume(r *ratchet, leaf uint32, typ RatchetType, generation uint32, use func(key, nonce []byte) error) error {
	if generation < r.next || r.exhausted {
		kn, ok := r.skipped[generation]
		if !ok {
			return fmt.Errorf("%w: %v generation %d of leaf %d", ErrGenerationConsumed, typ, generation, leaf)
		}
		if err := use(kn.Key, kn.Nonce); err != nil {
			return err
		}
		kn.wipe()
		delete(r.skipped, generation)
		return nil
	}
	if generation-r.next > t.cfg.MaxForward {
		return fmt.Errorf("%w: %v generation %d of leaf %d, ratchet at %d", ErrGenerationTooFar, typ, generation, leaf, r.next)
	}
	// Derive the chain on the side, so that a failed use leaves the ratchet
	// unchanged.
	var skipped []KeyNonce
	secret, owned := r.secret, false
	release := func() {
		for i := range skipped {
			skipped[i].wipe()
		}
		if owned {
			wipe(secret)
		}
	}
	for g := r.next; ; g++ {
		kn, next, err := t.step(secret, g)
		if err != nil {
			release()
			return err
		}
		if owned {
			wipe(secret)
		}
		secret, owned = next, true
		if g == generation {
			err := use(kn.Key, kn.Nonce)
			kn.wipe()
			if err != nil {
				release()
				return err
			}
			break
		}
		skipped = append(skipped, kn)
	}
	for _, kn := range skipped {
		r.skipped[kn.Generation] = kn
		r.order = append(r.order, kn.Generation)
	}
	t.evict(r)
	// r.next becomes generation+1 (or the ratchet is exhausted).
	r.next = generation
	t.advance(r, secret)
	return nil
}

// evict deletes the oldest skipped keys beyond Config.MaxRetained.
func (t *SecretTree) evict(r *ratchet) {
	for len(r.skipped) > t.cfg.MaxRetained && len(r.order) > 0 {
		g := r.order[0]
		r.order = r.order[1:]
		if kn, ok := r.skipped[g]; ok {
			kn.wipe()
			delete(r.skipped, g)
		}
	}
	// Drop erased generations from the front so order does not grow without
	// bound.
	for len(r.order) > 0 {
		if _, ok := r.skipped[r.order[0]]; ok {
			break
		}
		r.order = r.order[1:]
	}
	if len(r.order) > 4*t.cfg.MaxRetained {
		kept := r.order[:0]
		for _, g := range r.order {
			if _, ok := r.skipped[g]; ok {
				kept = append(kept, g)
			}
		}
		r.order = kept
	}
}

// Wipe overwrites and drops every secret in the tree, for when the epoch ends
// (RFC 9420, Section 9.2).
func (t *SecretTree) Wipe() {
	for x, s := range t.nodes {
		wipe(s)
		delete(t.nodes, x)
	}
	for k, r := range t.ratchets {
		wipe(r.secret)
		for g, kn := range r.skipped {
			kn.wipe()
			delete(r.skipped, g)
		}
		delete(t.ratchets, k)
	}
}

// String redacts the tree's secrets.
func (t *SecretTree) String() string { return "keyschedule.SecretTree(REDACTED)" }

// Format redacts the tree's secrets for every fmt verb.
func (t *SecretTree) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, t.String()) }

// LogValue redacts the tree's secrets in log/slog output.
func (t *SecretTree) LogValue() slog.Value { return slog.StringValue("REDACTED") }
