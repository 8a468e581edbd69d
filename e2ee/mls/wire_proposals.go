package mls

import (
	"bytes"
	"fmt"

	"conclave/e2ee/mls/internal/tls"
)

// keyPackage is the wire KeyPackage (RFC 9420, Section 10).
type keyPackage struct {
	version     ProtocolVersion
	cipherSuite CipherSuite
	initKey     []byte
	leafNode    leafNode
	extensions  extensionList
	signature   []byte
}

func (k *keyPackage) marshalTBS(w *tls.Writer) {
	w.Uint16(uint16(k.version))
	w.Uint16(uint16(k.cipherSuite))
	w.Opaque(k.initKey)
	k.leafNode.marshal(w)
	k.extensions.marshal(w)
}

func (k *keyPackage) marshal(w *tls.Writer) {
	k.marshalTBS(w)
	w.Opaque(k.signature)
}

func (k *keyPackage) unmarshal(r *tls.Reader) error {
	v, err := r.Uint16()
	if err != nil {
		return err
	}
	k.version = ProtocolVersion(v)
	cs, err := r.Uint16()
	if err != nil {
		return err
	}
	k.cipherSuite = CipherSuite(cs)
	if k.initKey, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	if err = k.leafNode.unmarshal(r); err != nil {
		return err
	}
	if err = k.extensions.unmarshal(r); err != nil {
		return err
	}
	k.signature, err = r.Opaque(maxKeyLen)
	return err
}

// preSharedKeyID names a PSK (RFC 9420, Section 8.4).
type preSharedKeyID struct {
	pskType    pskType
	pskID      []byte // external
	usage      resumptionPSKUsage
	pskGroupID []byte // resumption
	pskEpoch   uint64 // resumption
	pskNonce   []byte
}

func (p *preSharedKeyID) marshal(w *tls.Writer) {
	w.Uint8(uint8(p.pskType))
	switch p.pskType {
	case pskExternal:
		w.Opaque(p.pskID)
	case pskResumption:
		w.Uint8(uint8(p.usage))
		w.Opaque(p.pskGroupID)
		w.Uint64(p.pskEpoch)
	}
	w.Opaque(p.pskNonce)
}

func (p *preSharedKeyID) unmarshal(r *tls.Reader) error {
	t, err := r.Uint8()
	if err != nil {
		return err
	}
	p.pskType = pskType(t)
	switch p.pskType {
	case pskExternal:
		if p.pskID, err = r.Opaque(maxSmallVec); err != nil {
			return err
		}
	case pskResumption:
		u, err := r.Uint8()
		if err != nil {
			return err
		}
		p.usage = resumptionPSKUsage(u)
		if p.usage < usageApplication || p.usage > usageBranch {
			return fmt.Errorf("invalid resumption PSK usage %d", u)
		}
		if p.pskGroupID, err = r.Opaque(maxSmallVec); err != nil {
			return err
		}
		if p.pskEpoch, err = r.Uint64(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("invalid psktype %d", t)
	}
	p.pskNonce, err = r.Opaque(maxKeyLen)
	return err
}

func (p *preSharedKeyID) equal(o *preSharedKeyID) bool {
	return bytes.Equal(mustEncode(p), mustEncode(o))
}

// reInit is the ReInit proposal body (RFC 9420, Section 12.1.5).
type reInit struct {
	groupID     []byte
	version     ProtocolVersion
	cipherSuite CipherSuite
	extensions  extensionList
}

// proposal is the Proposal union (RFC 9420, Section 12.1).
type proposal struct {
	typ ProposalType

	add          *keyPackage     // add
	update       *leafNode       // update
	removed      uint32          // remove
	psk          *preSharedKeyID // psk
	reInit       *reInit         // reinit
	kemOutput    []byte          // external_init
	gcExtensions extensionList   // group_context_extensions
}

func (p *proposal) marshal(w *tls.Writer) {
	w.Uint16(uint16(p.typ))
	switch p.typ {
	case ProposalAdd:
		p.add.marshal(w)
	case ProposalUpdate:
		p.update.marshal(w)
	case ProposalRemove:
		w.Uint32(p.removed)
	case ProposalPSK:
		p.psk.marshal(w)
	case ProposalReInit:
		w.Opaque(p.reInit.groupID)
		w.Uint16(uint16(p.reInit.version))
		w.Uint16(uint16(p.reInit.cipherSuite))
		p.reInit.extensions.marshal(w)
	case ProposalExternalInit:
		w.Opaque(p.kemOutput)
	case ProposalGroupContextExtensions:
		p.gcExtensions.marshal(w)
	}
}

func (p *proposal) unmarshal(r *tls.Reader) error {
	t, err := r.Uint16()
	if err != nil {
		return err
	}
	p.typ = ProposalType(t)
	switch p.typ {
	case ProposalAdd:
		p.add = new(keyPackage)
		return p.add.unmarshal(r)
	case ProposalUpdate:
		p.update = new(leafNode)
		return p.update.unmarshal(r)
	case ProposalRemove:
		p.removed, err = r.Uint32()
		return err
	case ProposalPSK:
		p.psk = new(preSharedKeyID)
		return p.psk.unmarshal(r)
	case ProposalReInit:
		ri := new(reInit)
		if ri.groupID, err = r.Opaque(maxSmallVec); err != nil {
			return err
		}
		v, err := r.Uint16()
		if err != nil {
			return err
		}
		ri.version = ProtocolVersion(v)
		cs, err := r.Uint16()
		if err != nil {
			return err
		}
		ri.cipherSuite = CipherSuite(cs)
		if err := ri.extensions.unmarshal(r); err != nil {
			return err
		}
		p.reInit = ri
		return nil
	case ProposalExternalInit:
		p.kemOutput, err = r.Opaque(maxKeyLen)
		return err
	case ProposalGroupContextExtensions:
		return p.gcExtensions.unmarshal(r)
	default:
		// A proposal of unknown type has no length prefix, so it cannot be
		// skipped; the message is rejected (RFC 9420, Section 13.5).
		return fmt.Errorf("unsupported proposal type %#04x", t)
	}
}

// proposalOrRef carries a proposal by value or by reference
// (RFC 9420, Section 12.4).
type proposalOrRef struct {
	proposal  *proposal // by value when non-nil
	reference []byte
}

const (
	porProposal  = 1
	porReference = 2
)

func (p *proposalOrRef) marshal(w *tls.Writer) {
	if p.proposal != nil {
		w.Uint8(porProposal)
		p.proposal.marshal(w)
		return
	}
	w.Uint8(porReference)
	w.Opaque(p.reference)
}

func (p *proposalOrRef) unmarshal(r *tls.Reader) error {
	t, err := r.Uint8()
	if err != nil {
		return err
	}
	switch t {
	case porProposal:
		p.proposal = new(proposal)
		return p.proposal.unmarshal(r)
	case porReference:
		p.reference, err = r.Opaque(maxKeyLen)
		return err
	default:
		return fmt.Errorf("invalid ProposalOrRefType %d", t)
	}
}

// hpkeCiphertext is HPKECiphertext (RFC 9420, Section 7.6).
type hpkeCiphertext struct {
	kemOutput  []byte
	ciphertext []byte
}

func (c *hpkeCiphertext) marshal(w *tls.Writer) {
	w.Opaque(c.kemOutput)
	w.Opaque(c.ciphertext)
}

func (c *hpkeCiphertext) unmarshal(r *tls.Reader) error {
	var err error
	if c.kemOutput, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	c.ciphertext, err = r.Opaque(maxLargeVec)
	return err
}

// updatePathNode and updatePath are RFC 9420, Section 7.6.
type updatePathNode struct {
	encryptionKey       []byte
	encryptedPathSecret []hpkeCiphertext
}

type updatePath struct {
	leafNode leafNode
	nodes    []updatePathNode
}

func (u *updatePath) marshal(w *tls.Writer) {
	u.leafNode.marshal(w)
	writeList(w, u.nodes, func(w *tls.Writer, n updatePathNode) {
		w.Opaque(n.encryptionKey)
		writeList(w, n.encryptedPathSecret, func(w *tls.Writer, c hpkeCiphertext) { c.marshal(w) })
	})
}

func (u *updatePath) unmarshal(r *tls.Reader) error {
	if err := u.leafNode.unmarshal(r); err != nil {
		return err
	}
	u.nodes = nil
	return readList(r, maxLargeVec, func(r *tls.Reader) error {
		var n updatePathNode
		var err error
		if n.encryptionKey, err = r.Opaque(maxKeyLen); err != nil {
			return err
		}
		err = readList(r, maxLargeVec, func(r *tls.Reader) error {
			var c hpkeCiphertext
			if err := c.unmarshal(r); err != nil {
				return err
			}
			n.encryptedPathSecret = append(n.encryptedPathSecret, c)
			return nil
		})
		u.nodes = append(u.nodes, n)
		return err
	})
}

// commit is the Commit message body (RFC 9420, Section 12.4).
type commit struct {
	proposals []proposalOrRef
	path      *updatePath
}

func (c *commit) marshal(w *tls.Writer) {
	writeList(w, c.proposals, func(w *tls.Writer, p proposalOrRef) { p.marshal(w) })
	w.Optional(c.path != nil, func(w *tls.Writer) { c.path.marshal(w) })
}

func (c *commit) unmarshal(r *tls.Reader) error {
	c.proposals = nil
	err := readList(r, maxLargeVec, func(r *tls.Reader) error {
		var p proposalOrRef
		if err := p.unmarshal(r); err != nil {
			return err
		}
		c.proposals = append(c.proposals, p)
		return nil
	})
	if err != nil {
		return err
	}
	present, err := r.Optional()
	if err != nil {
		return err
	}
	c.path = nil
	if present {
		c.path = new(updatePath)
		return c.path.unmarshal(r)
	}
	return nil
}
