package audit

import "testing"

// FuzzParseHead: every head the parser accepts formats back to a string
// that parses to the same head.
func FuzzParseHead(f *testing.F) {
	f.Add(Head{Seq: 1, Hash: Hash{0xab}}.String())
	f.Add("12:" + Hash{}.String())
	f.Add("0:00")
	f.Add("-1:" + Hash{}.String())
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHead(s)
		if err != nil {
			return
		}
		if h.Seq < 1 {
			t.Fatalf("accepted sequence number %d", h.Seq)
		}
		h2, err := ParseHead(h.String())
		if err != nil || h2 != h {
			t.Fatalf("round trip of %q: %v %v", s, h2, err)
		}
	})
}
