package ds

import (
	"fmt"
	"path/filepath"

	"conclave/e2ee/mls"
	"conclave/internal/secretfile"
)

// KeyFile is the name of the DS signing key in the data folder.
const KeyFile = "ds.key"

// CipherSuite is the suite of the DS key and of Conclave groups
// (docs/e2ee-protocol.md, "Keys and codes").
const CipherSuite = mls.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519

// CredentialIdentity is the identity of the DS's basic credential, listed
// with its key in every group's external_senders extension.
const CredentialIdentity = "conclave-ds"

// LoadOrCreateKey returns the DS signing key kept in dir/ds.key (the hex
// Ed25519 private key), making one on first start. A file readable by
// anyone but its owner is refused rather than used.
func LoadOrCreateKey(dir string) (*mls.SignatureKey, error) {
	path := filepath.Join(dir, KeyFile)
	raw, err := secretfile.LoadOrCreate(path, func() ([]byte, error) {
		k, err := mls.GenerateSignatureKey(CipherSuite, nil)
		if err != nil {
			return nil, err
		}
		return k.Bytes()
	})
	if err != nil {
		return nil, fmt.Errorf("ds: key: %w", err)
	}
	defer clear(raw)
	k, err := mls.ParseSignatureKey(CipherSuite, raw)
	if err != nil {
		return nil, fmt.Errorf("ds: key: %s: %w", path, err)
	}
	return k, nil
}
