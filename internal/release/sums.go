package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// The names of the release's own check files in its folder.
const (
	SumsFile = "SHA256SUMS"
	SigFile  = SumsFile + ".minisig"
)

// ErrSumMismatch: a file's content differs from its line in SHA256SUMS.
var ErrSumMismatch = errors.New("release: SHA-256 mismatch")

// maxSumsFile bounds a SHA256SUMS file (a release has a handful of files).
const maxSumsFile = 1 << 20

// artifactName is what may be listed: a plain file name in the folder.
var artifactName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$`)

// Artifacts lists the regular files of dir that a release's sums cover:
// every one except SHA256SUMS and its signature, sorted by name.
func Artifacts(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == SumsFile || e.Name() == SigFile {
			continue
		}
		if !artifactName.MatchString(e.Name()) {
			return nil, fmt.Errorf("release: file name %q in %s is not a plain artifact name", e.Name(), dir)
		}
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("release: no files in %s", dir)
	}
	slices.Sort(names)
	return names, nil
}

// Sums returns the SHA256SUMS file of the named files of dir: one line
// "<hex SHA-256>  <name>\n" each, sorted by name (sha256sum's format, so
// `sha256sum -c SHA256SUMS` checks it too).
func Sums(dir string, names []string) ([]byte, error) {
	names = slices.Sorted(slices.Values(names))
	var b bytes.Buffer
	for i, n := range names {
		if !artifactName.MatchString(n) || (i > 0 && names[i-1] == n) {
			return nil, fmt.Errorf("release: bad or repeated artifact name %q", n)
		}
		sum, err := fileSHA256(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, n)
	}
	return b.Bytes(), nil
}

// CheckSums checks every file listed in sums against its content in dir
// and returns the names checked.
func CheckSums(dir string, sums []byte) ([]string, error) {
	if len(sums) > maxSumsFile {
		return nil, fmt.Errorf("%w: %s longer than %d bytes", ErrMalformed, SumsFile, maxSumsFile)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n") {
		want, name, ok := strings.Cut(line, "  ")
		if !ok || len(want) != 64 || !artifactName.MatchString(name) || slices.Contains(names, name) {
			return nil, fmt.Errorf("%w: %s line %q", ErrMalformed, SumsFile, line)
		}
		if _, err := hex.DecodeString(want); err != nil {
			return nil, fmt.Errorf("%w: %s line %q", ErrMalformed, SumsFile, line)
		}
		got, err := fileSHA256(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if got != strings.ToLower(want) {
			return nil, fmt.Errorf("%w: %s", ErrSumMismatch, name)
		}
		names = append(names, name)
	}
	return names, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("release: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SignDir writes dir/SHA256SUMS over every other file of dir and signs it
// into dir/SHA256SUMS.minisig with trustedComment.
func SignDir(dir string, key SecretKey, trustedComment string) error {
	names, err := Artifacts(dir)
	if err != nil {
		return err
	}
	sums, err := Sums(dir, names)
	if err != nil {
		return err
	}
	sig, err := Sign(key, sums, trustedComment)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, SumsFile), sums, 0o644); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SigFile), sig, 0o644); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}

// VerifyDir checks dir/SHA256SUMS.minisig with key, then every file listed
// in dir/SHA256SUMS. It returns the signature's trusted comment and the
// files checked. Files of dir that SHA256SUMS does not list are not
// vouched for: they are reported as an error too, so that nothing in a
// release folder passes unchecked.
func VerifyDir(dir string, key PublicKey) (string, []string, error) {
	sums, err := readBounded(filepath.Join(dir, SumsFile), maxSumsFile)
	if err != nil {
		return "", nil, err
	}
	sig, err := readBounded(filepath.Join(dir, SigFile), MaxFile)
	if err != nil {
		return "", nil, err
	}
	comment, err := Verify(key, sums, sig)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", SigFile, err)
	}
	names, err := CheckSums(dir, sums)
	if err != nil {
		return "", nil, err
	}
	present, err := Artifacts(dir)
	if err != nil {
		return "", nil, err
	}
	for _, p := range present {
		if !slices.Contains(names, p) {
			return "", nil, fmt.Errorf("release: %s is in %s but not in %s", p, dir, SumsFile)
		}
	}
	return comment, names, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("release: read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s longer than %d bytes", ErrMalformed, path, limit)
	}
	return b, nil
}
