package session

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"conclave/e2ee/mls"
)

// Kind is what sort of client a member is; every client shows it beside the
// member's name so that a phone bridge or a bot cannot pass for a person
// (DESIGN.md P4).
type Kind uint8

// Kinds of ConclaveIdentity (docs/e2ee-protocol.md, "Identity").
const (
	KindBrowser Kind = 1
	KindBot     Kind = 2
	KindPhone   Kind = 3
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindBrowser:
		return "browser"
	case KindBot:
		return "bot"
	case KindPhone:
		return "phone gateway"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Bounds of the identity fields, far above real values, so that a decoder of
// a peer's credential never allocates much.
const (
	maxParticipantLen = 128
	maxDisplayNameLen = 256
	maxDetailLen      = 1024
	identityVersion   = 1
)

// ErrIdentity: a credential is not a valid ConclaveIdentity.
var ErrIdentity = errors.New("session: invalid identity")

// Identity is the ConclaveIdentity carried as the identity of every member's
// BasicCredential (RFC 9420, Section 5.3; docs/e2ee-protocol.md, "Identity"):
//
//	struct {
//	  uint8  version = 1;
//	  opaque participant<V>;
//	  opaque display_name<V>;
//	  uint8  kind;
//	  opaque detail<V>;
//	} ConclaveIdentity;
type Identity struct {
	// Participant is the access token's identity ("P_..."), which ties the
	// leaf to the participant the /rtc layer knows.
	Participant string
	// DisplayName is the UTF-8 name chosen at /api/join.
	DisplayName string
	Kind        Kind
	// Detail is kind-specific, e.g. the phone a gateway carries.
	Detail string
}

// Validate checks the fields against the encoding's rules.
func (id Identity) Validate() error {
	switch {
	case id.Participant == "" || len(id.Participant) > maxParticipantLen:
		return fmt.Errorf("%w: participant of %d bytes", ErrIdentity, len(id.Participant))
	case len(id.DisplayName) > maxDisplayNameLen || !utf8.ValidString(id.DisplayName):
		return fmt.Errorf("%w: display name", ErrIdentity)
	case len(id.Detail) > maxDetailLen || !utf8.ValidString(id.Detail):
		return fmt.Errorf("%w: detail", ErrIdentity)
	case id.Kind < KindBrowser || id.Kind > KindPhone:
		return fmt.Errorf("%w: kind %d", ErrIdentity, id.Kind)
	}
	return nil
}

// MarshalBinary encodes the identity.
func (id Identity) MarshalBinary() ([]byte, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	b := []byte{identityVersion}
	b = appendOpaque(b, []byte(id.Participant))
	b = appendOpaque(b, []byte(id.DisplayName))
	b = append(b, byte(id.Kind))
	b = appendOpaque(b, []byte(id.Detail))
	return b, nil
}

// ParseIdentity decodes a ConclaveIdentity. It refuses trailing bytes, other
// versions and out-of-range fields, so that each identity has one encoding.
func ParseIdentity(b []byte) (Identity, error) {
	r := reader{b: b}
	v, err := r.uint8()
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	if v != identityVersion {
		return Identity{}, fmt.Errorf("%w: version %d", ErrIdentity, v)
	}
	p, err := r.opaque(maxParticipantLen)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: participant: %w", ErrIdentity, err)
	}
	name, err := r.opaque(maxDisplayNameLen)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: display name: %w", ErrIdentity, err)
	}
	k, err := r.uint8()
	if err != nil {
		return Identity{}, fmt.Errorf("%w: kind: %w", ErrIdentity, err)
	}
	detail, err := r.opaque(maxDetailLen)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: detail: %w", ErrIdentity, err)
	}
	if len(r.b) != 0 {
		return Identity{}, fmt.Errorf("%w: %d trailing bytes", ErrIdentity, len(r.b))
	}
	id := Identity{Participant: string(p), DisplayName: string(name), Kind: Kind(k), Detail: string(detail)}
	if err := id.Validate(); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// Credential returns the member's BasicCredential.
func (id Identity) Credential() (mls.Credential, error) {
	b, err := id.MarshalBinary()
	if err != nil {
		return mls.Credential{}, err
	}
	return mls.BasicCredential(b), nil
}

// validator is the Authentication Service of Conclave clients (RFC 9420,
// Section 5.3.1): every member credential must be a basic credential holding
// a valid ConclaveIdentity, and a member may not change its identity. The
// delivery service's credential (in external_senders) is checked only for
// being basic and non-empty, since it names a server, not a participant.
type validator struct{ dsCredential []byte }

func (v validator) ValidateCredential(cred mls.Credential, _ []byte) error {
	if cred.Type != mls.CredentialBasic {
		return fmt.Errorf("%w: credential type %d", ErrIdentity, cred.Type)
	}
	if v.dsCredential != nil && bytes.Equal(cred.Identity, v.dsCredential) {
		return nil
	}
	_, err := ParseIdentity(cred.Identity)
	return err
}

func (validator) ValidateSuccessor(old, next mls.Credential) error {
	if !old.Equal(next) {
		return fmt.Errorf("%w: a member may not change its identity", ErrIdentity)
	}
	return nil
}
