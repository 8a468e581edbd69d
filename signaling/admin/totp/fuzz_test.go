package totp

import (
	"crypto/sha1"
	"testing"
	"time"
)

// FuzzVerify: a code from the network is accepted only if it is exactly
// what the secret gives within the skew, and never twice.
func FuzzVerify(f *testing.F) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1234567890, 0)
	f.Add(Code(secret, now))
	f.Add("000000")
	f.Add("12345")
	f.Add("１２３４５６")
	f.Fuzz(func(t *testing.T, code string) {
		ctr, err := Verify(secret, code, now, 0)
		if err != nil {
			return
		}
		if HOTP(sha1.New, secret, ctr, Digits) != code {
			t.Fatalf("accepted %q for counter %d", code, ctr)
		}
		if d := int64(ctr) - int64(Counter(now)); d < -Skew || d > Skew {
			t.Fatalf("accepted a code %d steps away", d)
		}
		if _, err := Verify(secret, code, now, ctr); err == nil {
			t.Fatalf("accepted %q twice", code)
		}
	})
}
