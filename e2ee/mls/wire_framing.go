package mls

import (
	"fmt"

	"conclave/e2ee/mls/internal/tls"
)

// sender identifies who sent a FramedContent (RFC 9420, Section 6).
type sender struct {
	typ   SenderType
	index uint32 // leaf_index for member, sender_index for external
}

func (s sender) marshal(w *tls.Writer) {
	w.Uint8(uint8(s.typ))
	if s.typ == SenderMember || s.typ == SenderExternal {
		w.Uint32(s.index)
	}
}

func (s *sender) unmarshal(r *tls.Reader) error {
	t, err := r.Uint8()
	if err != nil {
		return err
	}
	s.typ = SenderType(t)
	switch s.typ {
	case SenderMember, SenderExternal:
		s.index, err = r.Uint32()
		return err
	case SenderNewMemberProposal, SenderNewMemberCommit:
		return nil
	default:
		return fmt.Errorf("invalid sender_type %d", t)
	}
}

// framedContent is FramedContent (RFC 9420, Section 6).
type framedContent struct {
	groupID           []byte
	epoch             uint64
	sender            sender
	authenticatedData []byte
	contentType       ContentType
	applicationData   []byte
	proposal          *proposal
	commit            *commit
}

func (c *framedContent) marshal(w *tls.Writer) {
	w.Opaque(c.groupID)
	w.Uint64(c.epoch)
	c.sender.marshal(w)
	w.Opaque(c.authenticatedData)
	w.Uint8(uint8(c.contentType))
	c.marshalBody(w)
}

// marshalBody writes the content selected by content_type, shared by
// FramedContent and PrivateMessageContent.
func (c *framedContent) marshalBody(w *tls.Writer) {
	switch c.contentType {
	case ContentApplication:
		w.Opaque(c.applicationData)
	case ContentProposal:
		c.proposal.marshal(w)
	case ContentCommit:
		c.commit.marshal(w)
	}
}

func (c *framedContent) unmarshalBody(r *tls.Reader) error {
	var err error
	switch c.contentType {
	case ContentApplication:
		c.applicationData, err = r.Opaque(maxLargeVec)
		return err
	case ContentProposal:
		c.proposal = new(proposal)
		return c.proposal.unmarshal(r)
	case ContentCommit:
		c.commit = new(commit)
		return c.commit.unmarshal(r)
	default:
		return fmt.Errorf("invalid content_type %d", c.contentType)
	}
}

func (c *framedContent) unmarshal(r *tls.Reader) error {
	var err error
	if c.groupID, err = r.Opaque(maxSmallVec); err != nil {
		return err
	}
	if c.epoch, err = r.Uint64(); err != nil {
		return err
	}
	if err = c.sender.unmarshal(r); err != nil {
		return err
	}
	if c.authenticatedData, err = r.Opaque(maxLargeVec); err != nil {
		return err
	}
	t, err := r.Uint8()
	if err != nil {
		return err
	}
	c.contentType = ContentType(t)
	return c.unmarshalBody(r)
}

// framedContentAuthData is FramedContentAuthData (RFC 9420, Section 6.1).
type framedContentAuthData struct {
	signature       []byte
	confirmationTag []byte // commit only
}

func (a *framedContentAuthData) marshal(w *tls.Writer, ct ContentType) {
	w.Opaque(a.signature)
	if ct == ContentCommit {
		w.Opaque(a.confirmationTag)
	}
}

func (a *framedContentAuthData) unmarshal(r *tls.Reader, ct ContentType) error {
	var err error
	if a.signature, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	if ct == ContentCommit {
		a.confirmationTag, err = r.Opaque(maxKeyLen)
	}
	return err
}

// authenticatedContent is AuthenticatedContent (RFC 9420, Section 6).
type authenticatedContent struct {
	wireFormat WireFormat
	content    framedContent
	auth       framedContentAuthData
}

func (a *authenticatedContent) marshal(w *tls.Writer) {
	w.Uint16(uint16(a.wireFormat))
	a.content.marshal(w)
	a.auth.marshal(w, a.content.contentType)
}

func (a *authenticatedContent) unmarshal(r *tls.Reader) error {
	wf, err := r.Uint16()
	if err != nil {
		return err
	}
	a.wireFormat = WireFormat(wf)
	if err := a.content.unmarshal(r); err != nil {
		return err
	}
	return a.auth.unmarshal(r, a.content.contentType)
}

// publicMessage is PublicMessage (RFC 9420, Section 6.2).
type publicMessage struct {
	content       framedContent
	auth          framedContentAuthData
	membershipTag []byte // member senders only
}

func (p *publicMessage) marshal(w *tls.Writer) {
	p.content.marshal(w)
	p.auth.marshal(w, p.content.contentType)
	if p.content.sender.typ == SenderMember {
		w.Opaque(p.membershipTag)
	}
}

func (p *publicMessage) unmarshal(r *tls.Reader) error {
	if err := p.content.unmarshal(r); err != nil {
		return err
	}
	if err := p.auth.unmarshal(r, p.content.contentType); err != nil {
		return err
	}
	if p.content.sender.typ == SenderMember {
		var err error
		p.membershipTag, err = r.Opaque(maxKeyLen)
		return err
	}
	return nil
}

// privateMessage is PrivateMessage (RFC 9420, Section 6.3).
type privateMessage struct {
	groupID             []byte
	epoch               uint64
	contentType         ContentType
	authenticatedData   []byte
	encryptedSenderData []byte
	ciphertext          []byte
}

func (p *privateMessage) marshal(w *tls.Writer) {
	w.Opaque(p.groupID)
	w.Uint64(p.epoch)
	w.Uint8(uint8(p.contentType))
	w.Opaque(p.authenticatedData)
	w.Opaque(p.encryptedSenderData)
	w.Opaque(p.ciphertext)
}

func (p *privateMessage) unmarshal(r *tls.Reader) error {
	var err error
	if p.groupID, err = r.Opaque(maxSmallVec); err != nil {
		return err
	}
	if p.epoch, err = r.Uint64(); err != nil {
		return err
	}
	t, err := r.Uint8()
	if err != nil {
		return err
	}
	p.contentType = ContentType(t)
	if p.contentType < ContentApplication || p.contentType > ContentCommit {
		return fmt.Errorf("invalid content_type %d", t)
	}
	if p.authenticatedData, err = r.Opaque(maxLargeVec); err != nil {
		return err
	}
	if p.encryptedSenderData, err = r.Opaque(maxKeyLen); err != nil {
		return err
	}
	p.ciphertext, err = r.Opaque(maxLargeVec)
	return err
}

// mlsMessage is MLSMessage (RFC 9420, Section 6).
type mlsMessage struct {
	version    ProtocolVersion
	wireFormat WireFormat
	public     *publicMessage
	private    *privateMessage
	welcome    *welcome
	groupInfo  *groupInfo
	keyPackage *keyPackage
}

func (m *mlsMessage) marshal(w *tls.Writer) {
	w.Uint16(uint16(m.version))
	w.Uint16(uint16(m.wireFormat))
	switch m.wireFormat {
	case WireFormatPublicMessage:
		m.public.marshal(w)
	case WireFormatPrivateMessage:
		m.private.marshal(w)
	case WireFormatWelcome:
		m.welcome.marshal(w)
	case WireFormatGroupInfo:
		m.groupInfo.marshal(w)
	case WireFormatKeyPackage:
		m.keyPackage.marshal(w)
	}
}

func (m *mlsMessage) unmarshal(r *tls.Reader) error {
	v, err := r.Uint16()
	if err != nil {
		return err
	}
	m.version = ProtocolVersion(v)
	if m.version != ProtocolVersionMLS10 {
		return fmt.Errorf("unsupported protocol version %d", v)
	}
	wf, err := r.Uint16()
	if err != nil {
		return err
	}
	m.wireFormat = WireFormat(wf)
	switch m.wireFormat {
	case WireFormatPublicMessage:
		m.public = new(publicMessage)
		return m.public.unmarshal(r)
	case WireFormatPrivateMessage:
		m.private = new(privateMessage)
		return m.private.unmarshal(r)
	case WireFormatWelcome:
		m.welcome = new(welcome)
		return m.welcome.unmarshal(r)
	case WireFormatGroupInfo:
		m.groupInfo = new(groupInfo)
		return m.groupInfo.unmarshal(r)
	case WireFormatKeyPackage:
		m.keyPackage = new(keyPackage)
		return m.keyPackage.unmarshal(r)
	default:
		return fmt.Errorf("unsupported wire_format %#04x", wf)
	}
}
