package mls

import "fmt"

// ProtocolVersion is an MLS protocol version (RFC 9420, Section 6).
type ProtocolVersion uint16

// ProtocolVersionMLS10 is the only version defined by RFC 9420.
const ProtocolVersionMLS10 ProtocolVersion = 1

// CipherSuite identifies an MLS cipher suite (RFC 9420, Section 17.1).
type CipherSuite uint16

// The cipher suites of RFC 9420, Section 17.1.
const (
	MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519        CipherSuite = 0x0001
	MLS_128_DHKEMP256_AES128GCM_SHA256_P256             CipherSuite = 0x0002
	MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519 CipherSuite = 0x0003
	MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448            CipherSuite = 0x0004
	MLS_256_DHKEMP521_AES256GCM_SHA512_P521             CipherSuite = 0x0005
	MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448     CipherSuite = 0x0006
	MLS_256_DHKEMP384_AES256GCM_SHA384_P384             CipherSuite = 0x0007
)

// ExtensionType identifies an extension (RFC 9420, Section 13.4 and 17.3).
type ExtensionType uint16

// Extension types defined by RFC 9420, Section 17.3.
const (
	ExtensionApplicationID        ExtensionType = 0x0001
	ExtensionRatchetTree          ExtensionType = 0x0002
	ExtensionRequiredCapabilities ExtensionType = 0x0003
	ExtensionExternalPub          ExtensionType = 0x0004
	ExtensionExternalSenders      ExtensionType = 0x0005
)

// isDefault reports whether t is a default extension type, which is never
// listed in capabilities (RFC 9420, Section 7.2).
func (t ExtensionType) isDefault() bool { return t >= 1 && t <= 5 }

// ProposalType identifies a proposal (RFC 9420, Section 12.1 and 17.4).
type ProposalType uint16

// Proposal types defined by RFC 9420, Section 17.4.
const (
	ProposalAdd                    ProposalType = 0x0001
	ProposalUpdate                 ProposalType = 0x0002
	ProposalRemove                 ProposalType = 0x0003
	ProposalPSK                    ProposalType = 0x0004
	ProposalReInit                 ProposalType = 0x0005
	ProposalExternalInit           ProposalType = 0x0006
	ProposalGroupContextExtensions ProposalType = 0x0007
)

func (t ProposalType) isDefault() bool { return t >= 1 && t <= 7 }

func (t ProposalType) String() string {
	switch t {
	case ProposalAdd:
		return "add"
	case ProposalUpdate:
		return "update"
	case ProposalRemove:
		return "remove"
	case ProposalPSK:
		return "psk"
	case ProposalReInit:
		return "reinit"
	case ProposalExternalInit:
		return "external_init"
	case ProposalGroupContextExtensions:
		return "group_context_extensions"
	}
	return fmt.Sprintf("proposal_type(%#04x)", uint16(t))
}

// CredentialType identifies a credential format (RFC 9420, Section 5.3).
type CredentialType uint16

// Credential types defined by RFC 9420, Section 17.5.
const (
	CredentialBasic CredentialType = 0x0001
	CredentialX509  CredentialType = 0x0002
)

// WireFormat identifies the kind of an MLSMessage (RFC 9420, Section 6 and 17.2).
type WireFormat uint16

// Wire formats defined by RFC 9420, Section 17.2.
const (
	WireFormatPublicMessage  WireFormat = 0x0001
	WireFormatPrivateMessage WireFormat = 0x0002
	WireFormatWelcome        WireFormat = 0x0003
	WireFormatGroupInfo      WireFormat = 0x0004
	WireFormatKeyPackage     WireFormat = 0x0005
)

func (w WireFormat) String() string {
	switch w {
	case WireFormatPublicMessage:
		return "mls_public_message"
	case WireFormatPrivateMessage:
		return "mls_private_message"
	case WireFormatWelcome:
		return "mls_welcome"
	case WireFormatGroupInfo:
		return "mls_group_info"
	case WireFormatKeyPackage:
		return "mls_key_package"
	}
	return fmt.Sprintf("wire_format(%#04x)", uint16(w))
}

// ContentType is the type of a FramedContent (RFC 9420, Section 6).
type ContentType uint8

// Content types of RFC 9420, Section 6.
const (
	ContentApplication ContentType = 1
	ContentProposal    ContentType = 2
	ContentCommit      ContentType = 3
)

func (c ContentType) String() string {
	switch c {
	case ContentApplication:
		return "application"
	case ContentProposal:
		return "proposal"
	case ContentCommit:
		return "commit"
	}
	return fmt.Sprintf("content_type(%d)", uint8(c))
}

// SenderType is the kind of sender of a FramedContent (RFC 9420, Section 6).
type SenderType uint8

// Sender types of RFC 9420, Section 6.
const (
	SenderMember            SenderType = 1
	SenderExternal          SenderType = 2
	SenderNewMemberProposal SenderType = 3
	SenderNewMemberCommit   SenderType = 4
)

func (s SenderType) String() string {
	switch s {
	case SenderMember:
		return "member"
	case SenderExternal:
		return "external"
	case SenderNewMemberProposal:
		return "new_member_proposal"
	case SenderNewMemberCommit:
		return "new_member_commit"
	}
	return fmt.Sprintf("sender_type(%d)", uint8(s))
}

// leafNodeSource says how a LeafNode came to be (RFC 9420, Section 7.2).
type leafNodeSource uint8

const (
	sourceKeyPackage leafNodeSource = 1
	sourceUpdate     leafNodeSource = 2
	sourceCommit     leafNodeSource = 3
)

// nodeType distinguishes leaves from parents in tree encodings
// (RFC 9420, Section 7.8 and 12.4.3.3).
type nodeType uint8

const (
	nodeTypeLeaf   nodeType = 1
	nodeTypeParent nodeType = 2
)

// pskType and resumptionPSKUsage are the enums of RFC 9420, Section 8.4.
type pskType uint8

const (
	pskExternal   pskType = 1
	pskResumption pskType = 2
)

type resumptionPSKUsage uint8

const (
	usageApplication resumptionPSKUsage = 1
	usageReInit      resumptionPSKUsage = 2
	usageBranch      resumptionPSKUsage = 3
)
