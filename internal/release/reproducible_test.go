package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReproducibleBuild builds the conclave binary of the current commit
// twice, as `make release` does (scripts/release build-binary: the release
// flags), from two `git archive` exports of the commit in different
// folders, and compares the two binaries byte for byte. It then checks that
// the binary names the commit, was built with cgo (libopus, for the phone
// gateway) and -trimpath,
// lists its modules, and holds neither build folder's path.
//
// The builds share the Go build cache, so this checks that nothing outside
// the sources and flags (paths, VCS state, time, environment) reaches the
// output; the web bundle is not built here (both exports hold only its
// placeholder), `make release` builds it deterministically (web/build.mjs).
func TestReproducibleBuild(t *testing.T) {
	root := strings.TrimSpace(run(t, "", "git", "rev-parse", "--show-toplevel"))
	commit := strings.TrimSpace(run(t, root, "git", "rev-parse", "HEAD"))
	script := filepath.Join(root, "scripts", "release")

	base := t.TempDir()
	dirs := []string{filepath.Join(base, "a", "src"), filepath.Join(base, "elsewhere", "deeper", "conclave")}
	var bins [][]byte
	for i, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		export(t, root, commit, dir)
		out := filepath.Join(base, []string{"first", "second"}[i])
		start := time.Now()
		run(t, dir, "sh", script, "build-binary", out, runtime.GOOS, runtime.GOARCH, commit)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("build %d from %s: %d bytes, SHA-256 %x, %v", i+1, dir, len(b), sha256.Sum256(b), time.Since(start).Round(time.Millisecond))
		bins = append(bins, b)
	}
	if !bytes.Equal(bins[0], bins[1]) {
		at := 0
		for at < min(len(bins[0]), len(bins[1])) && bins[0][at] == bins[1][at] {
			at++
		}
		t.Fatalf("the two release builds of %s differ: %d and %d bytes, first difference at byte %d", commit, len(bins[0]), len(bins[1]), at)
	}
	t.Logf("conclave %s/%s of commit %s: two builds from different folders are identical (%d bytes)", runtime.GOOS, runtime.GOARCH, commit, len(bins[0]))
	for _, dir := range dirs {
		if bytes.Contains(bins[0], []byte(dir)) || bytes.Contains(bins[0], []byte(base)) {
			t.Fatalf("the binary holds its build folder %s (-trimpath not in effect)", dir)
		}
	}

	// What the binary says about itself.
	var v struct {
		Commit   string
		Settings []string
		Modules  []struct{ Path, Version, Sum string }
	}
	if err := json.Unmarshal([]byte(run(t, "", filepath.Join(base, "first"), "version", "--json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Commit != commit {
		t.Fatalf("conclave version names commit %q, want %s", v.Commit, commit)
	}
	for _, want := range []string{"CGO_ENABLED=1", "-trimpath=true", "-buildmode=exe"} {
		if !slices.Contains(v.Settings, want) {
			t.Errorf("build settings %v lack %s", v.Settings, want)
		}
	}
	for _, s := range v.Settings {
		if strings.HasPrefix(s, "vcs.") {
			t.Errorf("VCS stamp %s in a release build", s)
		}
	}
	found := false
	for _, m := range v.Modules {
		found = found || m.Path == "github.com/pion/webrtc/v4" && m.Version != "" && strings.HasPrefix(m.Sum, "h1:")
	}
	if !found {
		t.Errorf("module list lacks github.com/pion/webrtc/v4 with its version and sum: %+v", v.Modules)
	}
}

// export writes the tree of commit into dir with git archive.
func export(t *testing.T, root, commit, dir string) {
	t.Helper()
	archive := exec.Command("git", "archive", "--format=tar", commit)
	archive.Dir = root
	untar := exec.Command("tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	var stderr bytes.Buffer
	archive.Stderr, untar.Stderr = &stderr, &stderr
	if err := untar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive: %v: %s", err, stderr.String())
	}
	if err := untar.Wait(); err != nil {
		t.Fatalf("tar: %v: %s", err, stderr.String())
	}
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
