package secretfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "k.key")
	calls := 0
	gen := func() ([]byte, error) { calls++; return []byte{1, 2, 3, 4}, nil }
	k, err := LoadOrCreate(path, gen)
	if err != nil || !bytes.Equal(k, []byte{1, 2, 3, 4}) {
		t.Fatalf("create: %x, %v", k, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode().Perm(), err)
	}
	dst, _ := os.Stat(filepath.Dir(path))
	if dst.Mode().Perm() != 0o700 {
		t.Fatalf("folder mode %v", dst.Mode().Perm())
	}
	k2, err := LoadOrCreate(path, gen)
	if err != nil || !bytes.Equal(k, k2) || calls != 1 {
		t.Fatalf("reload: %x, %v, %d generations", k2, err, calls)
	}
}

func TestRefusesExposedOrBadFiles(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.key")
	if err := os.WriteFile(open, []byte("00ff\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(open); !errors.Is(err, ErrExposed) {
		t.Fatalf("group-readable key: %v", err)
	}
	if _, err := LoadOrCreate(open, func() ([]byte, error) { return []byte{9}, nil }); !errors.Is(err, ErrExposed) {
		t.Fatalf("LoadOrCreate on an exposed key replaced or used it: %v", err)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("not hex"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(bad); err == nil {
		t.Fatal("non-hex key accepted")
	}
	failing := func() ([]byte, error) { return nil, errors.New("no entropy") }
	if _, err := LoadOrCreate(filepath.Join(dir, "new.key"), failing); err == nil {
		t.Fatal("generator failure ignored")
	}
	if _, err := os.Stat(filepath.Join(dir, "new.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed generation left a file behind")
	}
}
