package phone

import (
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestCallerLabel(t *testing.T) {
	trunk := identity{trunk: true, addr: netip.MustParseAddr("192.0.2.1")}
	for _, tc := range []struct {
		name, from, pai string
		who             identity
		want            string
	}{
		{"desk phone uses the authenticated user, not From", "sip:boss@evil", "", identity{user: "desk1"}, "sip:desk1"},
		{"trunk number from PAI", "sip:anon@x", "<sip:+4930123@pbx>", trunk, "+4930123"},
		{"trunk number from From", "sip:0301234@pbx", "", trunk, "0301234"},
		{"trunk sip name", "sip:reception@pbx", "", trunk, "sip:reception"},
		{"markup stripped", "sip:%3Cb%3EAlice%3C%2Fb%3E@pbx", "", trunk, "sip:3Cb3EAlice3C2Fb3E"},
		{"empty user", "sip:pbx", "", trunk, "unknown number via trunk 192.0.2.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var from sip.Uri
			if err := sip.ParseUri(tc.from, &from); err != nil {
				t.Fatal(err)
			}
			req := sip.NewRequest(sip.INVITE, sip.Uri{User: "conclave", Host: "127.0.0.1"})
			req.AppendHeader(&sip.FromHeader{Address: from, DisplayName: "Totally The CEO"})
			if tc.pai != "" {
				req.AppendHeader(sip.NewHeader("P-Asserted-Identity", tc.pai))
			}
			got := callerOf(req, tc.who, "hq")
			if got.Identity != tc.want {
				t.Fatalf("identity %q, want %q", got.Identity, tc.want)
			}
			if got.DisplayName() != "Phone caller ("+tc.want+"), via gateway hq" {
				t.Fatalf("label %q", got.DisplayName())
			}
		})
	}
}
