package mls

import (
	"bytes"
	"fmt"

	"conclave/e2ee/mls/internal/tls"
)

// groupContext is GroupContext (RFC 9420, Section 8.1).
type groupContext struct {
	version                 ProtocolVersion
	cipherSuite             CipherSuite
	groupID                 []byte
	epoch                   uint64
	treeHash                []byte
	confirmedTranscriptHash []byte
	extensions              extensionList
}

func (g *groupContext) marshal(w *tls.Writer) {
	w.Uint16(uint16(g.version))
	w.Uint16(uint16(g.cipherSuite))
	w.Opaque(g.groupID)
	w.Uint64(g.epoch)
	w.Opaque(g.treeHash)
	w.Opaque(g.confirmedTranscriptHash)
	g.extensions.marshal(w)
}

func (g *groupContext) unmarshal(r *tls.Reader) error {
	v, err := r.Uint16()
	if err != nil {
		return err
	}
	g.version = ProtocolVersion(v)
	cs, err := r.Uint16()
	if err != nil {
		return err
	}
	g.cipherSuite = CipherSuite(cs)
	if g.groupID, err = r.Opaque(maxSmallVec); err != nil {
		return err
	}
	if g.epoch, err = r.Uint64(); err != nil {
		return err
	}
	if g.treeHash, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	if g.confirmedTranscriptHash, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	return g.extensions.unmarshal(r)
}

func (g *groupContext) clone() groupContext {
	c := *g
	c.groupID = bytes.Clone(g.groupID)
	c.treeHash = bytes.Clone(g.treeHash)
	c.confirmedTranscriptHash = bytes.Clone(g.confirmedTranscriptHash)
	c.extensions = cloneExtensions(g.extensions)
	return c
}

// groupInfo is GroupInfo (RFC 9420, Section 12.4.3).
type groupInfo struct {
	groupContext    groupContext
	extensions      extensionList
	confirmationTag []byte
	signer          uint32
	signature       []byte
}

func (g *groupInfo) marshalTBS(w *tls.Writer) {
	g.groupContext.marshal(w)
	g.extensions.marshal(w)
	w.Opaque(g.confirmationTag)
	w.Uint32(g.signer)
}

func (g *groupInfo) marshal(w *tls.Writer) {
	g.marshalTBS(w)
	w.Opaque(g.signature)
}

func (g *groupInfo) unmarshal(r *tls.Reader) error {
	if err := g.groupContext.unmarshal(r); err != nil {
		return err
	}
	if err := g.extensions.unmarshal(r); err != nil {
		return err
	}
	var err error
	if g.confirmationTag, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	if g.signer, err = r.Uint32(); err != nil {
		return err
	}
	g.signature, err = r.Opaque(maxKeyLen)
	return err
}

// groupSecrets is GroupSecrets (RFC 9420, Section 12.4.3.1).
type groupSecrets struct {
	joinerSecret []byte
	pathSecret   []byte // optional<PathSecret>; nil when absent
	psks         []preSharedKeyID
}

func (g *groupSecrets) marshal(w *tls.Writer) {
	w.Opaque(g.joinerSecret)
	w.Optional(g.pathSecret != nil, func(w *tls.Writer) { w.Opaque(g.pathSecret) })
	writeList(w, g.psks, func(w *tls.Writer, p preSharedKeyID) { p.marshal(w) })
}

func (g *groupSecrets) unmarshal(r *tls.Reader) error {
	var err error
	if g.joinerSecret, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	present, err := r.Optional()
	if err != nil {
		return err
	}
	if present {
		if g.pathSecret, err = r.Opaque(maxKeyLen); err != nil {
			return err
		}
	}
	g.psks = nil
	return readList(r, maxLargeVec, func(r *tls.Reader) error {
		var p preSharedKeyID
		if err := p.unmarshal(r); err != nil {
			return err
		}
		g.psks = append(g.psks, p)
		return nil
	})
}

// encryptedGroupSecrets and welcome are RFC 9420, Section 12.4.3.1.
type encryptedGroupSecrets struct {
	newMember             []byte // KeyPackageRef
	encryptedGroupSecrets hpkeCiphertext
}

type welcome struct {
	cipherSuite        CipherSuite
	secrets            []encryptedGroupSecrets
	encryptedGroupInfo []byte
}

func (m *welcome) marshal(w *tls.Writer) {
	w.Uint16(uint16(m.cipherSuite))
	writeList(w, m.secrets, func(w *tls.Writer, s encryptedGroupSecrets) {
		w.Opaque(s.newMember)
		s.encryptedGroupSecrets.marshal(w)
	})
	w.Opaque(m.encryptedGroupInfo)
}

func (m *welcome) unmarshal(r *tls.Reader) error {
	cs, err := r.Uint16()
	if err != nil {
		return err
	}
	m.cipherSuite = CipherSuite(cs)
	m.secrets = nil
	err = readList(r, maxLargeVec, func(r *tls.Reader) error {
		var s encryptedGroupSecrets
		var err error
		if s.newMember, err = r.Opaque(maxKeyLen); err != nil {
			return err
		}
		if err := s.encryptedGroupSecrets.unmarshal(r); err != nil {
			return err
		}
		m.secrets = append(m.secrets, s)
		return nil
	})
	if err != nil {
		return err
	}
	m.encryptedGroupInfo, err = r.Opaque(maxLargeVec)
	return err
}

// externalSender is one entry of the external_senders extension
// (RFC 9420, Section 12.1.8.1).
type externalSender struct {
	signatureKey []byte
	credential   Credential
}

type externalSenders []externalSender

func (e externalSenders) marshal(w *tls.Writer) {
	writeList(w, e, func(w *tls.Writer, s externalSender) {
		w.Opaque(s.signatureKey)
		s.credential.marshal(w)
	})
}

func (e *externalSenders) unmarshal(r *tls.Reader) error {
	*e = nil
	return readList(r, maxLargeVec, func(r *tls.Reader) error {
		var s externalSender
		var err error
		if s.signatureKey, err = r.Opaque(maxKeyLen); err != nil {
			return err
		}
		if err := s.credential.unmarshal(r); err != nil {
			return err
		}
		*e = append(*e, s)
		return nil
	})
}

// requiredCapabilities is the required_capabilities extension
// (RFC 9420, Section 11.1).
type requiredCapabilities struct {
	extensions  []ExtensionType
	proposals   []ProposalType
	credentials []CredentialType
}

func (c *requiredCapabilities) marshal(w *tls.Writer) {
	writeUint16List(w, c.extensions)
	writeUint16List(w, c.proposals)
	writeUint16List(w, c.credentials)
}

func (c *requiredCapabilities) unmarshal(r *tls.Reader) error {
	e, err := readUint16List(r)
	if err != nil {
		return err
	}
	p, err := readUint16List(r)
	if err != nil {
		return err
	}
	cr, err := readUint16List(r)
	if err != nil {
		return err
	}
	c.extensions, c.proposals, c.credentials = convert[ExtensionType](e), convert[ProposalType](p), convert[CredentialType](cr)
	return nil
}

// externalPub is the external_pub GroupInfo extension (RFC 9420, Section 12.4.3.2).
type externalPub struct{ key []byte }

func (e *externalPub) marshal(w *tls.Writer) { w.Opaque(e.key) }
func (e *externalPub) unmarshal(r *tls.Reader) (err error) {
	e.key, err = r.Opaque(maxKeyLen)
	return err
}

// opaqueBytes encodes opaque<V> on its own (PathSecret, ExternalInit bodies
// used in tests).
type opaqueBytes []byte

func (o opaqueBytes) marshal(w *tls.Writer) { w.Opaque(o) }
func (o *opaqueBytes) unmarshal(r *tls.Reader) (err error) {
	*o, err = r.Opaque(maxLargeVec)
	return err
}

// ratchetTreeNodes is optional<Node> ratchet_tree<V> (RFC 9420,
// Section 12.4.3.3): nil entries are blank nodes.
type ratchetTreeNodes []*node

func (t ratchetTreeNodes) marshal(w *tls.Writer) {
	writeList(w, t, func(w *tls.Writer, n *node) {
		w.Optional(n != nil, func(w *tls.Writer) { n.marshal(w) })
	})
}

func (t *ratchetTreeNodes) unmarshal(r *tls.Reader) error {
	*t = nil
	return readList(r, maxLargeVec, func(r *tls.Reader) error {
		present, err := r.Optional()
		if err != nil {
			return err
		}
		if !present {
			*t = append(*t, nil)
			return nil
		}
		n := new(node)
		if err := n.unmarshal(r); err != nil {
			return err
		}
		*t = append(*t, n)
		return nil
	})
}

var _ = fmt.Errorf
