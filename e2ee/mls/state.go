package mls

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/internal/tls"
	"conclave/e2ee/mls/keyschedule"
	tm "conclave/e2ee/mls/treemath"
)

// stateVersion is the format version of saved group state. A format change
// gets a new version; old versions are refused with ErrStateVersion.
const stateVersion = 1

// exportSecret is MLS-Exporter (RFC 9420, Section 8.5) with an explicit
// suite, so that it also works on an epoch restored from saved state.
//
// TODO(keyschedule): a RestoreEpoch(suite, secrets) constructor would let
// restored epochs use Epoch.Export and the other methods directly.
func exportSecret(s *ciphersuite.Suite, ep *keyschedule.Epoch, label string, context []byte, length int) ([]byte, error) {
	derived := s.DeriveSecret(ep.ExporterSecret, label)
	return s.ExpandWithLabel(derived, "exported", s.Hash(context), length)
}

// MarshalBinary saves the group state (RFC 9420 does not define a format;
// this one is versioned). The bytes hold private keys and epoch secrets:
// store them as securely as the keys themselves. A pending commit is not
// saved. Saving and reloading keeps every message key not yet used, except
// keys kept for messages that arrive out of order.
func (g *Group) MarshalBinary() ([]byte, error) {
	var w tls.Writer
	w.Uint16(stateVersion)
	g.ctx.marshal(&w)
	w.Opaque(g.tree.encode())
	w.Uint32(uint32(g.own))
	sk, err := g.sig.Bytes()
	if err != nil {
		return nil, err
	}
	w.Opaque(sk)
	var keyErr error
	w.Vector(func(w *tls.Writer) {
		for _, x := range slices.Sorted(maps.Keys(g.keys)) {
			priv := g.keys[x]
			b, err := priv.Bytes()
			if err != nil {
				keyErr = err
			}
			w.Uint32(uint32(x))
			w.Opaque(b)
		}
	})
	if keyErr != nil {
		return nil, keyErr
	}
	w.Opaque(g.interim)
	w.Opaque(g.confTag)
	ep := g.epoch
	for _, sec := range [][]byte{ep.SenderDataSecret, ep.EncryptionSecret, ep.ExporterSecret, ep.ExternalSecret,
		ep.ConfirmationKey, ep.MembershipKey, ep.ResumptionPSK, ep.EpochAuthenticator, ep.InitSecret} {
		w.Opaque(sec)
	}
	w.Vector(func(w *tls.Writer) {
		ids := slices.SortedFunc(maps.Keys(g.msgKeys.pos), func(a, b ratchetID) int {
			if a.leaf != b.leaf {
				return cmp.Compare(a.leaf, b.leaf)
			}
			return cmp.Compare(a.typ, b.typ)
		})
		for _, id := range ids {
			pos := g.msgKeys.pos[id]
			w.Uint32(id.leaf)
			w.Uint8(uint8(id.typ))
			w.Uint32(pos)
		}
	})
	w.Vector(func(w *tls.Writer) {
		for _, cp := range g.proposals {
			w.Opaque(cp.ref)
			cp.sender.marshal(w)
			cp.p.marshal(w)
		}
	})
	w.Vector(func(w *tls.Writer) {
		for _, r := range g.resumption {
			w.Uint64(r.epoch)
			w.Opaque(r.psk)
		}
	})
	w.Bool(g.removed)
	w.Optional(g.reinit != nil, func(w *tls.Writer) {
		(&proposal{typ: ProposalReInit, reInit: g.reinit}).marshal(w)
	})
	w.Optional(g.updateKey != nil, func(w *tls.Writer) {
		b, _ := g.updateKey.Bytes()
		w.Opaque(b)
	})
	return w.Bytes()
}

// LoadGroup restores a group saved with MarshalBinary.
func LoadGroup(data []byte, cfg Config) (*Group, error) {
	g, err := loadGroup(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("mls: load group: %w", err)
	}
	return g, nil
}

func loadGroup(data []byte, cfg Config) (*Group, error) {
	r := tls.NewReader(data)
	v, err := r.Uint16()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if v != stateVersion {
		return nil, fmt.Errorf("%w: %d", ErrStateVersion, v)
	}
	g := &Group{cfg: cfg, keys: nodeKeys{}}
	bad := func(err error) (*Group, error) { return nil, fmt.Errorf("%w: %w", ErrMalformed, err) }
	if err := g.ctx.unmarshal(r); err != nil {
		return bad(err)
	}
	if g.suite, err = suiteFor(g.ctx.cipherSuite); err != nil {
		return nil, err
	}
	tb, err := r.Opaque(maxLargeVec)
	if err != nil {
		return bad(err)
	}
	if g.tree, err = decodeTree(tb); err != nil {
		return nil, err
	}
	own, err := r.Uint32()
	if err != nil {
		return bad(err)
	}
	g.own = tm.LeafIndex(own)
	sk, err := r.Opaque(maxKeyLen)
	if err != nil {
		return bad(err)
	}
	if g.sig, err = ParseSignatureKey(g.ctx.cipherSuite, sk); err != nil {
		return nil, err
	}
	err = readList(r, maxLargeVec, func(r *tls.Reader) error {
		x, err := r.Uint32()
		if err != nil {
			return err
		}
		b, err := r.Opaque(maxKeyLen)
		if err != nil {
			return err
		}
		priv, err := g.suite.NewHPKEPrivateKey(b)
		g.keys[tm.NodeIndex(x)] = priv
		return err
	})
	if err != nil {
		return bad(err)
	}
	if g.interim, err = r.Opaque(maxKeyLen); err != nil {
		return bad(err)
	}
	if g.confTag, err = r.Opaque(maxKeyLen); err != nil {
		return bad(err)
	}
	ep := &keyschedule.Epoch{}
	for _, dst := range []*keyschedule.Secret{&ep.SenderDataSecret, &ep.EncryptionSecret, &ep.ExporterSecret, &ep.ExternalSecret,
		&ep.ConfirmationKey, &ep.MembershipKey, &ep.ResumptionPSK, &ep.EpochAuthenticator, &ep.InitSecret} {
		b, err := r.Opaque(maxKeyLen)
		if err != nil {
			return bad(err)
		}
		if len(b) != g.suite.Nh() {
			return bad(fmt.Errorf("epoch secret of %d bytes", len(b)))
		}
		*dst = b
	}
	g.epoch = ep
	if g.msgKeys, err = newTrackedTree(g.suite, ep.EncryptionSecret, uint32(g.tree.leafCount()), cfg.OutOfOrder); err != nil {
		return nil, err
	}
	err = readList(r, maxLargeVec, func(r *tls.Reader) error {
		leaf, err := r.Uint32()
		if err != nil {
			return err
		}
		typ, err := r.Uint8()
		if err != nil {
			return err
		}
		pos, err := r.Uint32()
		if err != nil {
			return err
		}
		return g.msgKeys.skipTo(leaf, keyschedule.RatchetType(typ), pos)
	})
	if err != nil {
		return bad(err)
	}
	err = readList(r, maxLargeVec, func(r *tls.Reader) error {
		var cp cachedProposal
		var err error
		if cp.ref, err = r.Opaque(maxKeyLen); err != nil {
			return err
		}
		if err := cp.sender.unmarshal(r); err != nil {
			return err
		}
		cp.p = new(proposal)
		if err := cp.p.unmarshal(r); err != nil {
			return err
		}
		g.proposals = append(g.proposals, cp)
		return nil
	})
	if err != nil {
		return bad(err)
	}
	err = readList(r, maxLargeVec, func(r *tls.Reader) error {
		var rp resumptionPSK
		var err error
		if rp.epoch, err = r.Uint64(); err != nil {
			return err
		}
		rp.psk, err = r.Opaque(maxKeyLen)
		g.resumption = append(g.resumption, rp)
		return err
	})
	if err != nil {
		return bad(err)
	}
	if g.removed, err = r.Bool(); err != nil {
		return bad(err)
	}
	if present, err := r.Optional(); err != nil {
		return bad(err)
	} else if present {
		var p proposal
		if err := p.unmarshal(r); err != nil || p.typ != ProposalReInit {
			return bad(fmt.Errorf("reinit: %v", err))
		}
		g.reinit = p.reInit
	}
	if present, err := r.Optional(); err != nil {
		return bad(err)
	} else if present {
		b, err := r.Opaque(maxKeyLen)
		if err != nil {
			return bad(err)
		}
		if g.updateKey, err = g.suite.NewHPKEPrivateKey(b); err != nil {
			return nil, err
		}
	}
	if err := r.Done(); err != nil {
		return bad(err)
	}
	// The restored state must be coherent: our leaf exists and holds our
	// keys, and the tree matches the GroupContext.
	own_ := g.tree.leaf(g.own)
	if own_ == nil || string(own_.signatureKey) != string(g.sig.PublicKey()) {
		return nil, fmt.Errorf("%w: own leaf does not hold this member's signature key", ErrMalformed)
	}
	if string(g.tree.rootHash(g.suite.Hash)) != string(g.ctx.treeHash) {
		return nil, fmt.Errorf("%w: tree does not match the group context", ErrMalformed)
	}
	g.keys.prune(g.tree)
	return g, nil
}

// skipTo moves a ratchet to generation pos, deleting the keys before it.
func (m *trackedTree) skipTo(leaf uint32, typ keyschedule.RatchetType, pos uint32) error {
	if typ != keyschedule.Handshake && typ != keyschedule.Application {
		return fmt.Errorf("ratchet type %d", typ)
	}
	if pos > 1<<20 {
		return fmt.Errorf("ratchet position %d too large", pos)
	}
	for i := uint32(0); i < pos; i++ {
		if _, _, _, err := m.next(leaf, typ == keyschedule.Handshake); err != nil {
			return err
		}
	}
	return nil
}
