package signaling

import (
	"crypto/rand"
	"fmt"
	"path/filepath"

	"conclave/internal/secretfile"
)

// tokenKeyFile holds the HMAC secret that signs access tokens.
const tokenKeyFile = "token.key"

// loadOrCreateTokenKey returns the token signing secret kept in dir, making
// one on first start. A key others can read is refused rather than used.
func loadOrCreateTokenKey(dir string) ([]byte, error) {
	k, err := secretfile.LoadOrCreate(filepath.Join(dir, tokenKeyFile), func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := rand.Read(k)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	if len(k) < 32 {
		return nil, fmt.Errorf("token key: %s must hold at least 32 bytes", filepath.Join(dir, tokenKeyFile))
	}
	return k, nil
}
