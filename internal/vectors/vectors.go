// Package vectors locates the official test vectors (MLS RFC 9420, SFrame
// RFC 9605) for tests. The folder is $CONCLAVE_VECTORS when set, otherwise
// ../shared/vectors beside the module root. A missing folder or file fails the
// test: vector tests never skip.
package vectors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the vector folder for sub ("mls" or "sframe"), failing t if it
// does not exist.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	root := os.Getenv("CONCLAVE_VECTORS")
	if root == "" {
		mod, err := moduleRoot()
		if err != nil {
			t.Fatalf("vectors: %v", err)
		}
		root = filepath.Join(mod, "..", "shared", "vectors")
	}
	dir := filepath.Join(root, sub)
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		t.Fatalf("vectors: folder %s is missing (set CONCLAVE_VECTORS or put ../shared beside the repo): %v", dir, err)
	}
	return dir
}

// Load decodes the JSON vector file name inside Dir(t, sub) into v.
func Load(t testing.TB, sub, name string, v any) {
	t.Helper()
	path := filepath.Join(Dir(t, sub), name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("vectors: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("vectors: decode %s: %v", path, err)
	}
}

// moduleRoot walks up from the working directory to the folder with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
