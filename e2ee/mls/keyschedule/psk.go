package keyschedule

import (
	"fmt"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/internal/tls"
)

// PSK is one pre-shared key injected into an epoch (RFC 9420, Section 8.4):
// its serialized PreSharedKeyID (which carries the psk_nonce) and its value
// (an external PSK from the application, or a resumption_psk).
type PSK struct {
	// ID is the TLS encoding of the PreSharedKeyID.
	ID []byte
	// Secret is psk_[i].
	Secret Secret
}

// PSKSecret computes psk_secret from the PSKs in the order the Commit or
// GroupSecrets lists them (RFC 9420, Section 8.4):
//
//	psk_extracted_[i] = KDF.Extract(0, psk_[i])
//	psk_input_[i] = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, KDF.Nh)
//	psk_secret_[0] = 0
//	psk_secret_[i] = KDF.Extract(psk_input_[i-1], psk_secret_[i-1])
//
// with PSKLabel = {PreSharedKeyID id; uint16 index; uint16 count}. With no
// PSKs the result is KDF.Nh zero bytes.
func PSKSecret(suite *ciphersuite.Suite, psks []PSK) (Secret, error) {
	if len(psks) > 0xffff {
		return nil, fmt.Errorf("%w: %d", ErrTooManyPSKs, len(psks))
	}
	secret := zero(suite)
	var w tls.Writer
	for i, p := range psks {
		extracted := suite.Extract(zero(suite), p.Secret)
		w.Reset()
		w.Raw(p.ID)
		w.Uint16(uint16(i))
		w.Uint16(uint16(len(psks)))
		label, err := w.Bytes()
		if err != nil {
			return nil, fmt.Errorf("keyschedule: encode PSKLabel: %w", err)
		}
		input, err := suite.ExpandWithLabel(extracted, "derived psk", label, suite.Nh())
		wipe(extracted)
		if err != nil {
			return nil, fmt.Errorf("keyschedule: psk_input_[%d]: %w", i, err)
		}
		next := suite.Extract(input, secret)
		wipe(input)
		wipe(secret)
		secret = next
	}
	return secret, nil
}
