package mls

import (
	"fmt"
	"maps"
	"slices"

	"conclave/e2ee/mls/internal/tls"
	"conclave/e2ee/mls/keyschedule"
	tm "conclave/e2ee/mls/treemath"
)

// stateVersion is the format version of saved group state. A format change
// gets a new version; old versions are refused with ErrStateVersion.
//
// Version 1 kept the epoch's encryption_secret and the ratchet positions;
// version 2 keeps the secret tree's unconsumed secrets instead
// (keyschedule.SecretTree.MarshalBinary), so a saved group holds no secret
// it has already used, and keys kept for late messages survive a reload.
const stateVersion = 2

// epochSecrets lists the saved secrets of an epoch, in saved order. It
// leaves out encryption_secret, which the secret tree consumed (RFC 9420,
// Section 9.2), and joiner_secret and welcome_secret, which only the
// committer uses while creating the Welcome.
func epochSecrets(ep *keyschedule.Epoch) []*keyschedule.Secret {
	return []*keyschedule.Secret{&ep.SenderDataSecret, &ep.ExporterSecret, &ep.ExternalSecret,
		&ep.ConfirmationKey, &ep.MembershipKey, &ep.ResumptionPSK, &ep.EpochAuthenticator, &ep.InitSecret}
}

// MarshalBinary saves the group state (RFC 9420 does not define a format;
// this one is versioned). The bytes hold private keys and epoch secrets:
// store them as securely as the keys themselves. A pending commit is not
// saved. The epoch's secret tree is saved with exactly the secrets it has
// not consumed (RFC 9420, Section 9.2): message keys already used and
// encryption_secret are not in the bytes, and keys kept for messages that
// arrive out of order are. Past epochs kept for late application messages
// (Config.PastEpochs) are not saved: a restored group opens late messages
// only of epochs it leaves after the restore.
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
	for _, sec := range epochSecrets(g.epoch) {
		w.Opaque(*sec)
	}
	st, err := g.msgKeys.t.MarshalBinary()
	if err != nil {
		return nil, err
	}
	w.Opaque(st)
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
	switch {
	case v == 1:
		return nil, fmt.Errorf("%w: version 1 state (which kept encryption_secret) is no longer read; rejoin the group, for example with an external commit", ErrStateVersion)
	case v != stateVersion:
		return nil, fmt.Errorf("%w: version %d, this build reads version %d", ErrStateVersion, v, stateVersion)
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
	saved := &keyschedule.Epoch{}
	for _, dst := range epochSecrets(saved) {
		b, err := r.Opaque(maxKeyLen)
		if err != nil {
			return bad(err)
		}
		*dst = b
	}
	if g.epoch, err = keyschedule.RestoreEpoch(g.suite, saved); err != nil {
		return bad(err)
	}
	st, err := r.Opaque(maxLargeVec)
	if err != nil {
		return bad(err)
	}
	mk, err := keyschedule.UnmarshalSecretTree(g.suite, st, secretTreeConfig(cfg.OutOfOrder))
	if err != nil {
		return bad(err)
	}
	if mk.LeafCount() != uint32(g.tree.leafCount()) {
		return bad(fmt.Errorf("secret tree of %d leaves for a ratchet tree of %d", mk.LeafCount(), g.tree.leafCount()))
	}
	g.msgKeys = &trackedTree{t: mk}
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
