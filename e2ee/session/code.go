package session

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
)

const securityCodeLabel = "Conclave security code v1"

// SecurityCode derives the code members compare out of band from the epoch
// authenticator (RFC 9420, Section 8.7): h = SHA-256("Conclave security code
// v1" || epoch_authenticator), then five groups BE-uint32(h[4i:4i+4]) mod
// 10000 printed as four digits, separated by spaces (about 66 bits). All
// members of an epoch with the same view of the group get the same code; any
// difference in the tree or the key schedule changes it.
func SecurityCode(epochAuthenticator []byte) string {
	h := sha256.New()
	h.Write([]byte(securityCodeLabel))
	h.Write(epochAuthenticator)
	sum := h.Sum(nil)
	groups := make([]string, 5)
	for i := range groups {
		groups[i] = fmt.Sprintf("%04d", binary.BigEndian.Uint32(sum[4*i:4*i+4])%10000)
	}
	return strings.Join(groups, " ")
}
