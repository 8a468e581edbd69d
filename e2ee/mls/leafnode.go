package mls

import (
	"bytes"
	"fmt"
	"slices"

	"conclave/e2ee/mls/internal/tls"
)

// Extension is a typed, opaque extension value (RFC 9420, Section 13.4).
type Extension struct {
	Type ExtensionType
	Data []byte
}

func (e Extension) marshal(w *tls.Writer) {
	w.Uint16(uint16(e.Type))
	w.Opaque(e.Data)
}

func (e *Extension) unmarshal(r *tls.Reader) error {
	t, err := r.Uint16()
	if err != nil {
		return err
	}
	e.Type = ExtensionType(t)
	e.Data, err = r.Opaque(maxLargeVec)
	return err
}

// extensionList is Extension extensions<V>.
type extensionList []Extension

func (l extensionList) marshal(w *tls.Writer) {
	writeList(w, l, func(w *tls.Writer, e Extension) { e.marshal(w) })
}

func (l *extensionList) unmarshal(r *tls.Reader) error {
	*l = nil
	return readList(r, maxLargeVec, func(r *tls.Reader) error {
		var e Extension
		if err := e.unmarshal(r); err != nil {
			return err
		}
		*l = append(*l, e)
		return nil
	})
}

// find returns the extension of type t.
func (l extensionList) find(t ExtensionType) (Extension, bool) {
	for _, e := range l {
		if e.Type == t {
			return e, true
		}
	}
	return Extension{}, false
}

// checkUnique enforces "Any field containing a list of extensions MUST NOT
// have more than one extension of any given type" (RFC 9420, Section 13.4).
func (l extensionList) checkUnique() error {
	seen := make(map[ExtensionType]bool, len(l))
	for _, e := range l {
		if seen[e.Type] {
			return fmt.Errorf("extension %#04x appears twice (RFC 9420, Section 13.4)", uint16(e.Type))
		}
		seen[e.Type] = true
	}
	return nil
}

func cloneExtensions(l extensionList) extensionList {
	out := make(extensionList, len(l))
	for i, e := range l {
		out[i] = Extension{Type: e.Type, Data: bytes.Clone(e.Data)}
	}
	return out
}

// capabilitySet is Capabilities: what a client supports (RFC 9420, Section 7.2).
type capabilitySet struct {
	Versions     []ProtocolVersion
	CipherSuites []CipherSuite
	Extensions   []ExtensionType
	Proposals    []ProposalType
	Credentials  []CredentialType
}

func (c capabilitySet) marshal(w *tls.Writer) {
	writeUint16List(w, c.Versions)
	writeUint16List(w, c.CipherSuites)
	writeUint16List(w, c.Extensions)
	writeUint16List(w, c.Proposals)
	writeUint16List(w, c.Credentials)
}

func (c *capabilitySet) unmarshal(r *tls.Reader) error {
	lists := make([][]uint16, 5)
	for i := range lists {
		l, err := readUint16List(r)
		if err != nil {
			return err
		}
		lists[i] = l
	}
	c.Versions = convert[ProtocolVersion](lists[0])
	c.CipherSuites = convert[CipherSuite](lists[1])
	c.Extensions = convert[ExtensionType](lists[2])
	c.Proposals = convert[ProposalType](lists[3])
	c.Credentials = convert[CredentialType](lists[4])
	return nil
}

func convert[T ~uint16](xs []uint16) []T {
	if xs == nil {
		return nil
	}
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = T(x)
	}
	return out
}

// supportsExtension reports whether t is supported: default types always
// are (RFC 9420, Section 7.2).
func (c capabilitySet) supportsExtension(t ExtensionType) bool {
	return t.isDefault() || slices.Contains(c.Extensions, t)
}

func (c capabilitySet) supportsProposal(t ProposalType) bool {
	return t.isDefault() || slices.Contains(c.Proposals, t)
}

// lifetime is the validity window of a KeyPackage's leaf (RFC 9420, Section 7.2).
type lifetime struct {
	notBefore, notAfter uint64
}

// leafNode is a member's leaf (RFC 9420, Section 7.2).
type leafNode struct {
	encryptionKey []byte
	signatureKey  []byte
	credential    Credential
	capabilities  capabilitySet
	source        leafNodeSource
	lifetime      lifetime // when source == key_package
	parentHash    []byte   // when source == commit
	extensions    extensionList
	signature     []byte
}

// marshalTBSFields writes the fields common to LeafNode and LeafNodeTBS.
func (l *leafNode) marshalContent(w *tls.Writer) {
	w.Opaque(l.encryptionKey)
	w.Opaque(l.signatureKey)
	l.credential.marshal(w)
	l.capabilities.marshal(w)
	w.Uint8(uint8(l.source))
	switch l.source {
	case sourceKeyPackage:
		w.Uint64(l.lifetime.notBefore)
		w.Uint64(l.lifetime.notAfter)
	case sourceCommit:
		w.Opaque(l.parentHash)
	}
	l.extensions.marshal(w)
}

func (l *leafNode) marshal(w *tls.Writer) {
	l.marshalContent(w)
	w.Opaque(l.signature)
}

// tbs returns LeafNodeTBS (RFC 9420, Section 7.2): the group ID and leaf
// index are bound for the update and commit sources.
func (l *leafNode) tbs(groupID []byte, leaf uint32) []byte {
	var w tls.Writer
	l.marshalContent(&w)
	if l.source == sourceUpdate || l.source == sourceCommit {
		w.Opaque(groupID)
		w.Uint32(leaf)
	}
	b, _ := w.Bytes()
	return b
}

func (l *leafNode) unmarshal(r *tls.Reader) error {
	var err error
	if l.encryptionKey, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	if l.signatureKey, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	if err = l.credential.unmarshal(r); err != nil {
		return err
	}
	if err = l.capabilities.unmarshal(r); err != nil {
		return err
	}
	s, err := r.Uint8()
	if err != nil {
		return err
	}
	l.source = leafNodeSource(s)
	switch l.source {
	case sourceKeyPackage:
		if l.lifetime.notBefore, err = r.Uint64(); err != nil {
			return err
		}
		if l.lifetime.notAfter, err = r.Uint64(); err != nil {
			return err
		}
	case sourceUpdate:
	case sourceCommit:
		if l.parentHash, err = r.Opaque(maxKeyLen); err != nil {
			return err
		}
	default:
		return fmt.Errorf("invalid leaf_node_source %d", s)
	}
	if err = l.extensions.unmarshal(r); err != nil {
		return err
	}
	l.signature, err = r.Opaque(maxKeyLen)
	return err
}

func (l *leafNode) clone() *leafNode {
	if l == nil {
		return nil
	}
	c := *l
	c.encryptionKey = bytes.Clone(l.encryptionKey)
	c.signatureKey = bytes.Clone(l.signatureKey)
	c.parentHash = bytes.Clone(l.parentHash)
	c.signature = bytes.Clone(l.signature)
	c.extensions = cloneExtensions(l.extensions)
	return &c
}

// parentNode is an interior node of the ratchet tree (RFC 9420, Section 7.1).
type parentNode struct {
	encryptionKey  []byte
	parentHash     []byte
	unmergedLeaves []uint32
}

func (p *parentNode) marshal(w *tls.Writer) {
	w.Opaque(p.encryptionKey)
	w.Opaque(p.parentHash)
	writeList(w, p.unmergedLeaves, func(w *tls.Writer, l uint32) { w.Uint32(l) })
}

func (p *parentNode) unmarshal(r *tls.Reader) error {
	var err error
	if p.encryptionKey, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	if p.parentHash, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	p.unmergedLeaves = nil
	return readList(r, maxLargeVec, func(r *tls.Reader) error {
		v, err := r.Uint32()
		p.unmergedLeaves = append(p.unmergedLeaves, v)
		return err
	})
}

func (p *parentNode) clone() *parentNode {
	if p == nil {
		return nil
	}
	return &parentNode{
		encryptionKey:  bytes.Clone(p.encryptionKey),
		parentHash:     bytes.Clone(p.parentHash),
		unmergedLeaves: slices.Clone(p.unmergedLeaves),
	}
}

// node is a non-blank node of the ratchet tree: exactly one of leaf and
// parent is set (RFC 9420, Section 12.4.3.3, struct Node).
type node struct {
	leaf   *leafNode
	parent *parentNode
}

func (n *node) marshal(w *tls.Writer) {
	if n.leaf != nil {
		w.Uint8(uint8(nodeTypeLeaf))
		n.leaf.marshal(w)
		return
	}
	w.Uint8(uint8(nodeTypeParent))
	n.parent.marshal(w)
}

func (n *node) unmarshal(r *tls.Reader) error {
	t, err := r.Uint8()
	if err != nil {
		return err
	}
	switch nodeType(t) {
	case nodeTypeLeaf:
		n.leaf = new(leafNode)
		return n.leaf.unmarshal(r)
	case nodeTypeParent:
		n.parent = new(parentNode)
		return n.parent.unmarshal(r)
	default:
		return fmt.Errorf("invalid node_type %d", t)
	}
}

func (n *node) encryptionKey() []byte {
	if n.leaf != nil {
		return n.leaf.encryptionKey
	}
	return n.parent.encryptionKey
}
