package signaling

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tokenKeyFile holds the HMAC secret that signs access tokens.
const tokenKeyFile = "token.key"

// loadOrCreateTokenKey returns the token signing secret kept in dir, making
// one on first start. The file must be readable by its owner only: a key
// others can read is refused rather than used.
func loadOrCreateTokenKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, tokenKeyFile)
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		var k [32]byte
		if _, err := rand.Read(k[:]); err != nil {
			return nil, fmt.Errorf("token key: %w", err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("token key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("token key: %w", err)
		}
		if _, err := f.WriteString(hex.EncodeToString(k[:]) + "\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("token key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("token key: %w", err)
		}
		return k[:], nil
	case err != nil:
		return nil, fmt.Errorf("token key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("token key: %s is readable by others (mode %v); run: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) < 32 {
		return nil, fmt.Errorf("token key: %s must hold at least 32 bytes in hex", path)
	}
	return k, nil
}
