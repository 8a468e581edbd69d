package mls

import (
	"bytes"
	"fmt"
)

// externalProposal signs a proposal as the external sender at index
// senderIndex of the group's external_senders extension and frames it as a
// PublicMessage (RFC 9420, Sections 6.1 and 12.1.8). External senders
// sign without the GroupContext, so no group state is needed.
func externalProposal(groupID []byte, epoch uint64, senderIndex uint32, key *SignatureKey, p *proposal) ([]byte, error) {
	s, err := suiteFor(key.suite)
	if err != nil {
		return nil, err
	}
	c := framedContent{
		groupID: bytes.Clone(groupID), epoch: epoch, sender: sender{typ: SenderExternal, index: senderIndex},
		contentType: ContentProposal, proposal: p,
	}
	sig, err := signContent(s, key.priv, WireFormatPublicMessage, &c, nil)
	if err != nil {
		return nil, err
	}
	return encode(&mlsMessage{version: ProtocolVersionMLS10, wireFormat: WireFormatPublicMessage,
		public: &publicMessage{content: c, auth: framedContentAuthData{signature: sig}}})
}

// ExternalRemove builds a Remove proposal from an external sender, such as
// Conclave's delivery service, listed at senderIndex in the group's
// external_senders extension (RFC 9420, Section 12.1.8): it asks the
// members to remove the member at leaf removed in the given epoch.
func ExternalRemove(groupID []byte, epoch uint64, senderIndex uint32, key *SignatureKey, removed uint32) ([]byte, error) {
	return externalProposal(groupID, epoch, senderIndex, key, &proposal{typ: ProposalRemove, removed: removed})
}

// MessageInfo is what anyone can read from an MLSMessage without keys: what
// a delivery service needs to route and sequence it.
type MessageInfo struct {
	WireFormat WireFormat
	// GroupID and Epoch are set for PublicMessage, PrivateMessage and
	// GroupInfo.
	GroupID []byte
	Epoch   uint64
	// ContentType is set for PublicMessage and PrivateMessage.
	ContentType ContentType
	// Sender is set for PublicMessage (a PrivateMessage hides it).
	Sender *Sender
	// KeyPackageRefs lists the KeyPackages a Welcome is for.
	KeyPackageRefs [][]byte
}

// InspectMessage decodes the public framing of an MLSMessage
// (RFC 9420, Section 6). It verifies nothing.
func InspectMessage(data []byte) (*MessageInfo, error) {
	var m mlsMessage
	if err := decode(data, &m); err != nil {
		return nil, err
	}
	info := &MessageInfo{WireFormat: m.wireFormat}
	switch m.wireFormat {
	case WireFormatPublicMessage:
		c := &m.public.content
		info.GroupID, info.Epoch, info.ContentType = c.groupID, c.epoch, c.contentType
		info.Sender = &Sender{Type: c.sender.typ, Index: c.sender.index}
	case WireFormatPrivateMessage:
		info.GroupID, info.Epoch, info.ContentType = m.private.groupID, m.private.epoch, m.private.contentType
	case WireFormatGroupInfo:
		info.GroupID, info.Epoch = m.groupInfo.groupContext.groupID, m.groupInfo.groupContext.epoch
	case WireFormatWelcome:
		for _, s := range m.welcome.secrets {
			info.KeyPackageRefs = append(info.KeyPackageRefs, s.newMember)
		}
	case WireFormatKeyPackage:
	default:
		return nil, fmt.Errorf("%w: wire format %v", ErrMalformed, m.wireFormat)
	}
	return info, nil
}
