package session

import (
	"errors"
	"testing"
	"time"
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
