package bot

import (
	"testing"

	"conclave/e2ee/session"
)

// The report's phone members are exactly the roster's phone gateways, with
// the phone they carry: the state behind the "not end-to-end encrypted
// beyond the gateway" banner.
func TestPhoneMembers(t *testing.T) {
	phone := session.Member{Leaf: 2, Identity: session.Identity{Participant: "P_GW", DisplayName: "Phone caller (+1), via gateway gw", Kind: session.KindPhone, Detail: "+1 via gw"}}
	for _, tc := range []struct {
		name   string
		roster []session.Member
		want   []PhoneMember
	}{
		{"empty", nil, nil},
		{"people and bots only", []session.Member{
			{Leaf: 0, Identity: session.Identity{Participant: "P_A", Kind: session.KindBrowser}},
			{Leaf: 1, Identity: session.Identity{Participant: "P_B", Kind: session.KindBot}, Self: true},
		}, nil},
		{"a phone", []session.Member{
			{Leaf: 0, Identity: session.Identity{Participant: "P_A", Kind: session.KindBrowser}},
			phone,
		}, []PhoneMember{{Participant: "P_GW", Name: "Phone caller (+1), via gateway gw", Detail: "+1 via gw"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := phoneMembers(tc.roster)
			if len(got) != len(tc.want) {
				t.Fatalf("phone members %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("phone member %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// A member identity's zero kind is a bot; a phone gateway says so.
func TestMemberIdentityKind(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    MemberIdentity
		want session.Kind
	}{
		{"zero", MemberIdentity{}, session.KindBot},
		{"phone", MemberIdentity{Kind: session.KindPhone, Detail: "+1 via gw"}, session.KindPhone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.kind(); got != tc.want {
				t.Errorf("kind %v, want %v", got, tc.want)
			}
		})
	}
}
