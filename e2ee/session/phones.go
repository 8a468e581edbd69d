package session

import (
	"errors"
	"fmt"
	"slices"

	"conclave/e2ee/mls"
)

// ExtensionPhonesForbidden is the GroupContext extension (RFC 9420,
// Section 13.4; a private-use type of Section 17.3) that a meeting which
// forbids phones carries from its creation, with empty data. Living in the
// group context, it is agreed by every member's key schedule and the server
// cannot add or remove it. Clients refuse to admit a member of kind
// KindPhone into such a group, and a phone gateway that finds it after its
// Welcome leaves before sending anything (docs/e2ee-protocol.md).
const ExtensionPhonesForbidden mls.ExtensionType = 0xF0C1

// ErrPhonesForbidden: the meeting's group context forbids phone gateways.
var ErrPhonesForbidden = errors.New("session: the meeting does not allow phones")

// supportedExtensions are the non-default GroupContext extensions every
// client advertises in its KeyPackage's capabilities, so that it can join
// a group carrying them (RFC 9420, Sections 7.2 and 12.1.1).
var supportedExtensions = []mls.ExtensionType{ExtensionPhonesForbidden}

// phonesForbiddenExtension is the extension a creating member adds.
func phonesForbiddenExtension() mls.Extension {
	return mls.Extension{Type: ExtensionPhonesForbidden}
}

// PhonesForbidden reports whether the group's context forbids phone
// gateways; false before the client is in a group.
func (s *Session) PhonesForbidden() bool {
	if s.group == nil {
		return false
	}
	return slices.ContainsFunc(s.group.Extensions(), func(e mls.Extension) bool { return e.Type == ExtensionPhonesForbidden })
}

// checkPhoneAllowed refuses a member added to a group that forbids phones
// when its credential says it is a phone gateway, whoever committed it
// (a modified client cannot bring one in either).
func (s *Session) checkPhoneAllowed(m mls.Member) error {
	if !s.PhonesForbidden() {
		return nil
	}
	id, err := ParseIdentity(m.Credential.Identity)
	if err != nil {
		return err
	}
	if id.Kind == KindPhone {
		return fmt.Errorf("%w: leaf %d is a phone gateway", ErrPhonesForbidden, m.Leaf)
	}
	return nil
}
