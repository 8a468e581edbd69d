package admin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"conclave/internal/release"
)

func TestCLIReleaseKeygenSignVerify(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "rel")
	out, err := runCLI(t, "", "release-keygen", "--out", prefix)
	if err != nil || !strings.Contains(out, "rel.key") {
		t.Fatalf("release-keygen: %v\n%s", err, out)
	}
	if st, err := os.Stat(prefix + ".key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v", err)
	}
	if _, err := runCLI(t, "", "release-keygen", "--out", prefix); err == nil {
		t.Fatal("release-keygen overwrote an existing key")
	}
	dist := filepath.Join(dir, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"conclave-linux-amd64", "BUILDINFO"} {
		if err := os.WriteFile(filepath.Join(dist, n), []byte("content of "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err = runCLI(t, "", "release-sign", "--key", prefix+".key", "--comment", "conclave test release", dist); err != nil {
		t.Fatalf("release-sign: %v\n%s", err, out)
	}
	out, err = runCLI(t, "", "release-verify", "--pub", prefix+".pub", dist)
	if err != nil || !strings.Contains(out, "trusted comment: conclave test release") || !strings.Contains(out, "OK  conclave-linux-amd64") {
		t.Fatalf("release-verify: %v\n%s", err, out)
	}
	pub, _ := os.ReadFile(prefix + ".pub")
	b64 := strings.TrimSpace(strings.SplitN(string(pub), "\n", 2)[1])
	if _, err = runCLI(t, "", "release-verify", "--pubkey", b64, dist); err != nil {
		t.Fatalf("release-verify --pubkey: %v", err)
	}
	// A changed artifact fails.
	if err := os.WriteFile(filepath.Join(dist, "conclave-linux-amd64"), []byte("trojan"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = runCLI(t, "", "release-verify", "--pub", prefix+".pub", dist); !errors.Is(err, release.ErrSumMismatch) {
		t.Fatalf("tampered artifact: %v", err)
	}
	// A key file others can read is refused for signing.
	if err := os.Chmod(prefix+".key", 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = runCLI(t, "", "release-sign", "--key", prefix+".key", dist); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
}
