package keyschedule

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/internal/tls"
	"conclave/e2ee/mls/treemath"
)

// ErrSavedState means bytes given to UnmarshalSecretTree are not a secret
// tree saved by MarshalBinary for the suite, or describe an impossible one.
var ErrSavedState = errors.New("keyschedule: invalid saved secret tree")

// secretTreeVersion is the format version of SecretTree.MarshalBinary.
const secretTreeVersion = 1

// RestoreEpoch rebuilds an Epoch of suite from secrets an application saved
// from one (RFC 9420 leaves persistence to the implementation). Every
// secret of Section 8, Table 4 and init_secret must be present with KDF.Nh
// bytes, except EncryptionSecret, which a saved epoch should not keep once
// its secret tree is built (Section 9.2: the tree saves exactly the secrets
// not yet consumed, see SecretTree.MarshalBinary), and JoinerSecret and
// WelcomeSecret, which only the committer of the epoch uses. The secrets
// are copied.
func RestoreEpoch(suite *ciphersuite.Suite, saved *Epoch) (*Epoch, error) {
	if suite == nil || saved == nil {
		return nil, fmt.Errorf("keyschedule: restore epoch: nil argument")
	}
	e := &Epoch{suite: suite}
	required := []struct {
		name string
		src  Secret
		dst  *Secret
	}{
		{"sender_data_secret", saved.SenderDataSecret, &e.SenderDataSecret},
		{"exporter_secret", saved.ExporterSecret, &e.ExporterSecret},
		{"external_secret", saved.ExternalSecret, &e.ExternalSecret},
		{"confirmation_key", saved.ConfirmationKey, &e.ConfirmationKey},
		{"membership_key", saved.MembershipKey, &e.MembershipKey},
		{"resumption_psk", saved.ResumptionPSK, &e.ResumptionPSK},
		{"epoch_authenticator", saved.EpochAuthenticator, &e.EpochAuthenticator},
		{"init_secret", saved.InitSecret, &e.InitSecret},
	}
	for _, r := range required {
		if err := e.checkLen(r.name, r.src); err != nil {
			return nil, fmt.Errorf("keyschedule: restore epoch: %w", err)
		}
		*r.dst = slices.Clone(r.src)
	}
	optional := []struct {
		name string
		src  Secret
		dst  *Secret
	}{
		{"encryption_secret", saved.EncryptionSecret, &e.EncryptionSecret},
		{"joiner_secret", saved.JoinerSecret, &e.JoinerSecret},
		{"welcome_secret", saved.WelcomeSecret, &e.WelcomeSecret},
	}
	for _, o := range optional {
		if o.src == nil {
			continue
		}
		if err := e.checkLen(o.name, o.src); err != nil {
			return nil, fmt.Errorf("keyschedule: restore epoch: %w", err)
		}
		*o.dst = slices.Clone(o.src)
	}
	return e, nil
}

// MarshalBinary saves the tree so that a member can survive a restart
// without keeping encryption_secret: the bytes hold exactly the secrets not
// yet consumed (RFC 9420, Section 9.2): the node secrets not yet split into
// their children, each created ratchet's current secret and generation, and
// the keys and nonces kept for messages that may still arrive out of order.
// Nothing already used or deleted is included. The bytes are as secret as
// the keys they hold. Config is not saved; pass it to UnmarshalSecretTree.
//
// Format (TLS presentation language, RFC 9420, Section 2.1):
//
//	struct {
//	    uint8 version = 1;
//	    uint16 cipher_suite;
//	    uint32 leaf_count;
//	    struct { uint32 node; opaque secret<V>; } nodes<V>;   // by node
//	    struct {
//	        uint32 leaf; uint8 type; uint32 next; uint8 exhausted;
//	        opaque secret<V>;                                  // empty if exhausted
//	        struct { uint32 generation; opaque key<V>; opaque nonce<V>; } skipped<V>; // oldest first
//	    } ratchets<V>;                                         // by (leaf, type)
//	} SavedSecretTree;
func (t *SecretTree) MarshalBinary() ([]byte, error) {
	var w tls.Writer
	w.Uint8(secretTreeVersion)
	w.Uint16(uint16(t.suite.ID()))
	w.Uint32(uint32(t.n))
	w.Vector(func(w *tls.Writer) {
		for _, x := range slices.Sorted(maps.Keys(t.nodes)) {
			w.Uint32(uint32(x))
			w.Opaque(t.nodes[x])
		}
	})
	keys := slices.SortedFunc(maps.Keys(t.ratchets), func(a, b ratchetKey) int {
		if c := cmp.Compare(a.leaf, b.leaf); c != 0 {
			return c
		}
		return cmp.Compare(a.typ, b.typ)
	})
	w.Vector(func(w *tls.Writer) {
		for _, k := range keys {
			r := t.ratchets[k]
			w.Uint32(k.leaf)
			w.Uint8(uint8(k.typ))
			w.Uint32(r.next)
			w.Bool(r.exhausted)
			w.Opaque(r.secret)
			w.Vector(func(w *tls.Writer) {
				for _, g := range r.liveOrder() {
					kn := r.skipped[g]
					w.Uint32(g)
					w.Opaque(kn.Key)
					w.Opaque(kn.Nonce)
				}
			})
		}
	})
	b, err := w.Bytes()
	if err != nil {
		return nil, fmt.Errorf("keyschedule: save secret tree: %w", err)
	}
	return b, nil
}

// liveOrder returns the generations in skipped, oldest first, each once.
func (r *ratchet) liveOrder() []uint32 {
	out := make([]uint32, 0, len(r.skipped))
	seen := make(map[uint32]bool, len(r.skipped))
	for _, g := range r.order {
		if _, ok := r.skipped[g]; ok && !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	// Generations missing from order (there should be none) go last, in
	// increasing order, so that nothing unconsumed is lost.
	if len(out) != len(r.skipped) {
		for _, g := range slices.Sorted(maps.Keys(r.skipped)) {
			if !seen[g] {
				out = append(out, g)
			}
		}
	}
	return out
}

// UnmarshalSecretTree restores a tree saved with MarshalBinary for suite.
// It checks that the saved state is one a SecretTree can reach: secrets of
// the suite's sizes, nodes and ratchets inside the tree, no secret stored
// both for a node and for one of its ancestors, both ratchets of a leaf
// present together, and skipped generations below the ratchet's position.
// Keys beyond cfg.MaxRetained are evicted oldest first. Failures wrap
// ErrSavedState.
func UnmarshalSecretTree(suite *ciphersuite.Suite, data []byte, cfg Config) (*SecretTree, error) {
	t, err := unmarshalSecretTree(suite, data, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSavedState, err)
	}
	return t, nil
}

func unmarshalSecretTree(suite *ciphersuite.Suite, data []byte, cfg Config) (*SecretTree, error) {
	r := tls.NewReader(data)
	v, err := r.Uint8()
	if err != nil {
		return nil, err
	}
	if v != secretTreeVersion {
		return nil, fmt.Errorf("format version %d, want %d", v, secretTreeVersion)
	}
	id, err := r.Uint16()
	if err != nil {
		return nil, err
	}
	if ciphersuite.ID(id) != suite.ID() {
		return nil, fmt.Errorf("saved for cipher suite %#04x, not %#04x", id, uint16(suite.ID()))
	}
	lc, err := r.Uint32()
	if err != nil {
		return nil, err
	}
	n := treemath.LeafCount(lc)
	if !n.Valid() || n > treemath.MaxLeaves {
		return nil, fmt.Errorf("leaf count %d", lc)
	}
	t := &SecretTree{suite: suite, n: n, cfg: cfg.withDefaults(),
		nodes: make(map[treemath.NodeIndex]Secret), ratchets: make(map[ratchetKey]*ratchet)}
	nh := suite.Nh()
	nodes, err := r.Vector(-1)
	if err != nil {
		return nil, err
	}
	for !nodes.Empty() {
		x, err := nodes.Uint32()
		if err != nil {
			return nil, err
		}
		s, err := nodes.Opaque(nh)
		if err != nil {
			return nil, err
		}
		if x >= n.Width() {
			return nil, fmt.Errorf("node %d outside a tree of %d leaves", x, n)
		}
		if len(s) != nh {
			return nil, fmt.Errorf("node %d secret of %d bytes", x, len(s))
		}
		if _, dup := t.nodes[treemath.NodeIndex(x)]; dup {
			return nil, fmt.Errorf("node %d twice", x)
		}
		t.nodes[treemath.NodeIndex(x)] = s
	}
	ratchets, err := r.Vector(-1)
	if err != nil {
		return nil, err
	}
	for !ratchets.Empty() {
		k, rt, err := readRatchet(ratchets, suite)
		if err != nil {
			return nil, err
		}
		if !n.ContainsLeaf(treemath.LeafIndex(k.leaf)) {
			return nil, fmt.Errorf("ratchet of leaf %d outside a tree of %d leaves", k.leaf, n)
		}
		if _, dup := t.ratchets[k]; dup {
			return nil, fmt.Errorf("%v ratchet of leaf %d twice", k.typ, k.leaf)
		}
		t.ratchets[k] = rt
		t.evict(rt)
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	// Both ratchets of a leaf are created together (ratchetFor).
	for k := range t.ratchets {
		other := ratchetKey{k.leaf, Handshake + Application - k.typ}
		if _, ok := t.ratchets[other]; !ok {
			return nil, fmt.Errorf("leaf %d has a %v ratchet without its %v ratchet", k.leaf, k.typ, other.typ)
		}
	}
	// A stored secret's ancestors have all been consumed: no stored node,
	// and no leaf with ratchets, lies below another stored node.
	held := make(map[treemath.NodeIndex]bool, len(t.nodes)+len(t.ratchets)/2)
	for x := range t.nodes {
		held[x] = true
	}
	for k := range t.ratchets {
		x := treemath.LeafIndex(k.leaf).Node()
		if t.nodes[x] != nil {
			return nil, fmt.Errorf("leaf %d has both a node secret and ratchets", k.leaf)
		}
		held[x] = true
	}
	for x := range held {
		for _, a := range treemath.DirectPath(x, n) {
			if t.nodes[a] != nil {
				return nil, fmt.Errorf("node %d and its ancestor %d both hold secrets", x, a)
			}
		}
	}
	return t, nil
}

// readRatchet reads one saved ratchet and checks its sizes and generations.
func readRatchet(r *tls.Reader, suite *ciphersuite.Suite) (ratchetKey, *ratchet, error) {
	var k ratchetKey
	var err error
	if k.leaf, err = r.Uint32(); err != nil {
		return k, nil, err
	}
	typ, err := r.Uint8()
	if err != nil {
		return k, nil, err
	}
	k.typ = RatchetType(typ)
	if k.typ != Handshake && k.typ != Application {
		return k, nil, fmt.Errorf("ratchet type %d", typ)
	}
	rt := &ratchet{skipped: make(map[uint32]KeyNonce)}
	if rt.next, err = r.Uint32(); err != nil {
		return k, nil, err
	}
	if rt.exhausted, err = r.Bool(); err != nil {
		return k, nil, err
	}
	secret, err := r.Opaque(suite.Nh())
	if err != nil {
		return k, nil, err
	}
	switch {
	case rt.exhausted && len(secret) != 0:
		return k, nil, fmt.Errorf("exhausted ratchet of leaf %d keeps a secret", k.leaf)
	case !rt.exhausted && len(secret) != suite.Nh():
		return k, nil, fmt.Errorf("ratchet secret of %d bytes", len(secret))
	}
	if !rt.exhausted {
		rt.secret = secret
	}
	skipped, err := r.Vector(-1)
	if err != nil {
		return k, nil, err
	}
	for !skipped.Empty() {
		var kn KeyNonce
		if kn.Generation, err = skipped.Uint32(); err != nil {
			return k, nil, err
		}
		key, err := skipped.Opaque(suite.AEADKeySize())
		if err != nil {
			return k, nil, err
		}
		nonce, err := skipped.Opaque(suite.AEADNonceSize())
		if err != nil {
			return k, nil, err
		}
		if len(key) != suite.AEADKeySize() || len(nonce) != suite.AEADNonceSize() {
			return k, nil, fmt.Errorf("skipped key of generation %d has the wrong size", kn.Generation)
		}
		if kn.Generation >= rt.next && !rt.exhausted {
			return k, nil, fmt.Errorf("skipped generation %d not below the ratchet's next %d", kn.Generation, rt.next)
		}
		if _, dup := rt.skipped[kn.Generation]; dup {
			return k, nil, fmt.Errorf("skipped generation %d twice", kn.Generation)
		}
		kn.Key, kn.Nonce = key, nonce
		rt.skipped[kn.Generation] = kn
		rt.order = append(rt.order, kn.Generation)
	}
	return k, rt, nil
}
