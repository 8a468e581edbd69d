// Package secretfile keeps a server's secret keys (the token signing key, the
// delivery service's signing key, the phone gateway's key) in files that only
// their owner can read. A key file that group or others can read is refused
// rather than used: a key that may have leaked is not a key.
//
// Keys are stored as one line of hex, so that an admin can see a file holds
// a key without a hex dump, and never as anything that logs would print.
package secretfile

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrExposed is returned for a key file that group or others can read.
var ErrExposed = errors.New("secretfile: key file is readable by others")

// Read returns the bytes held hex-encoded in path, refusing a file whose
// mode lets anyone but its owner read it.
func Read(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s (mode %v); run: chmod 600 %s", ErrExposed, path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	defer clear(b)
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("secretfile: %s does not hold a hex key", path)
	}
	return k, nil
}

// LoadOrCreate returns the key in path, or, if the file does not exist,
// makes one with gen and writes it (folder 0700, file 0600, never
// overwriting a file that appeared meanwhile).
func LoadOrCreate(path string, gen func() ([]byte, error)) ([]byte, error) {
	k, err := Read(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k, err = gen()
	if err != nil {
		return nil, fmt.Errorf("secretfile: new key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("secretfile: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("secretfile: write %s: %w", path, err)
	}
	return k, nil
}
