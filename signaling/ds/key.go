package ds

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"conclave/e2ee/mls"
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
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return createKey(dir, path)
	case err != nil:
		return nil, fmt.Errorf("ds: key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("ds: key: %s is readable by others (mode %v); run: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ds: key: %w", err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("ds: key: %s does not hold a hex key", path)
	}
	k, err := mls.ParseSignatureKey(CipherSuite, raw)
	clear(raw)
	if err != nil {
		return nil, fmt.Errorf("ds: key: %s: %w", path, err)
	}
	return k, nil
}

func createKey(dir, path string) (*mls.SignatureKey, error) {
	k, err := mls.GenerateSignatureKey(CipherSuite, nil)
	if err != nil {
		return nil, fmt.Errorf("ds: key: %w", err)
	}
	raw, err := k.Bytes()
	if err != nil {
		return nil, fmt.Errorf("ds: key: %w", err)
	}
	defer clear(raw)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ds: key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ds: key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(raw) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("ds: key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("ds: key: %w", err)
	}
	return k, nil
}
