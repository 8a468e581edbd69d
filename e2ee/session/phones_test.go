package session

import (
	"errors"
	"testing"
	"time"

	"conclave/e2ee/mls"
)

// A meeting created with ForbidPhones carries the extension in its group
// context: its members refuse to admit a phone gateway (and still admit a
// bot, whose KeyPackage supports the extension); a meeting without it
// admits the phone, which sees phones allowed.
func TestPhonesForbidden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forbid bool
	}{
		{"forbidden", true},
		{"allowed", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork(t)
			newSession := func(name string, kind Kind, secret []byte, forbid bool) *client {
				s, err := New(Config{
					Identity:     Identity{Participant: "P_" + name, DisplayName: name, Kind: kind, Detail: "+4930555 via gw"},
					RoomID:       testRoomID,
					LinkSecret:   secret,
					ForbidPhones: forbid,
				})
				if err != nil {
					t.Fatal(err)
				}
				c := n.attach(name, s)
				n.run()
				return c
			}
			a := newSession("a", KindBot, n.secret, tc.forbid)
			n.settle(30*time.Second, converged(a))
			if got := a.s.PhonesForbidden(); got != tc.forbid {
				t.Fatalf("creator: PhonesForbidden = %v, want %v", got, tc.forbid)
			}
			phone := newSession("phone", KindPhone, nil, false)
			knocker := newSession("knocker", KindBot, nil, false)
			n.advance(10 * time.Second)

			out, err := a.s.Admit(lobbyRef(t, a, "phone"), n.now)
			n.deliver(a, out)
			if tc.forbid {
				if !errors.Is(err, ErrPhonesForbidden) {
					t.Fatalf("admitting a phone into a meeting that forbids phones: %v", err)
				}
			} else if err != nil {
				t.Fatalf("admit phone: %v", err)
			}
			out, err = a.s.Admit(lobbyRef(t, a, "knocker"), n.now)
			if err != nil {
				t.Fatalf("admit bot: %v", err)
			}
			n.deliver(a, out)
			want := []*client{a, knocker}
			if !tc.forbid {
				want = append(want, phone)
			}
			n.settle(30*time.Second, converged(want...))
			if got := knocker.s.PhonesForbidden(); got != tc.forbid {
				t.Errorf("joiner: PhonesForbidden = %v, want %v", got, tc.forbid)
			}
			if tc.forbid && phone.s.Member() {
				t.Error("the phone got into a meeting that forbids phones")
			}
			if !tc.forbid && !phone.s.Member() {
				t.Error("the phone was not admitted into a meeting that allows phones")
			}
		})
	}
}

// Whoever commits it, a phone gateway added to a group that forbids phones
// is refused by every member's commit check (checkPhoneAllowed runs on each
// Add of another member's commit after the admission evidence).
func TestCheckPhoneAllowed(t *testing.T) {
	cred := func(kind Kind) mls.Credential {
		c, err := Identity{Participant: "P_X", DisplayName: "x", Kind: kind, Detail: "d"}.Credential()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		forbid bool
		kind   Kind
		want   error
	}{
		{"phone, forbidden", true, KindPhone, ErrPhonesForbidden},
		{"bot, forbidden", true, KindBot, nil},
		{"browser, forbidden", true, KindBrowser, nil},
		{"phone, allowed", false, KindPhone, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork(t)
			s, err := New(Config{Identity: Identity{Participant: "P_a", DisplayName: "a", Kind: KindBot}, RoomID: testRoomID, LinkSecret: n.secret, ForbidPhones: tc.forbid})
			if err != nil {
				t.Fatal(err)
			}
			a := n.attach("a", s)
			n.settle(30*time.Second, converged(a))
			err = a.s.checkPhoneAllowed(mls.Member{Leaf: 7, Credential: cred(tc.kind)})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("checkPhoneAllowed = %v, want %v", err, tc.want)
			}
		})
	}
}
