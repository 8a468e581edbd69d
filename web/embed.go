// Package web holds the browser app of Conclave, built from web/src by
// web/build.mjs into web/dist and embedded in the binary, and the SHA-256 that
// identifies that build (DESIGN.md P8: a participant can tell which code the
// server gave them by comparing the hash the page computes with the published
// one).
//
// The bundle hash is defined over the files of dist, the placeholder
// dist/.keep excepted, so that anyone can recompute it with standard tools:
//
//	cd web/dist && find . -type f ! -path ./.keep -printf '%P\n' | LC_ALL=C sort |
//	    xargs sha256sum | sha256sum
//
// that is, SHA-256 over the lines "<hex SHA-256 of the file>  <path>\n" of
// every file, sorted bytewise by path (the output format of sha256sum). The
// page computes the same value in the browser over the files listed in
// assets/files.json (see web/src/bundlehash.ts).
//
// This package never sees meeting content, keys or link secrets: it only
// serves static files.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
)

//go:embed all:dist
var embedded embed.FS

// placeholder is the file that keeps dist in version control; it is not part
// of the bundle.
const placeholder = ".keep"

// IndexFile is the page served for "/" and "/m/<room>".
const IndexFile = "index.html"

// ErrNotBuilt reports that the binary was compiled without running the web
// build first (web/dist holds only its placeholder).
var ErrNotBuilt = errors.New("web: bundle not built (run: node web/build.mjs)")

// FS returns the built bundle, rooted at web/dist: "index.html" and
// "assets/...". The placeholder .keep is not part of it: opening it fails with
// fs.ErrNotExist.
func FS() fs.FS {
	sub, err := fs.Sub(embedded, "dist")
	if err != nil {
		// fs.Sub fails only for an invalid path, and "dist" is a constant.
		panic(fmt.Sprintf("web: sub dist: %v", err))
	}
	return bundleFS{sub}
}

// bundleFS hides the placeholder of the root directory.
type bundleFS struct{ fsys fs.FS }

func (b bundleFS) Open(name string) (fs.File, error) {
	if name == placeholder {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return b.fsys.Open(name)
}

var embeddedHash = sync.OnceValues(func() (string, error) { return HashFS(FS()) })

// Hash returns the hex SHA-256 of the embedded bundle (see the package
// documentation for its definition), or [ErrNotBuilt].
func Hash() (string, error) { return embeddedHash() }

// HashFS computes the bundle hash of fsys: SHA-256 over the sha256sum-style
// lines "<hex SHA-256>  <path>\n" of every regular file except the root
// placeholder .keep, sorted bytewise by path. It returns [ErrNotBuilt] if
// fsys has no index.html.
func HashFS(fsys fs.FS) (string, error) {
	var paths []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && p != placeholder {
			paths = append(paths, p)
		} else if !d.IsDir() && p != placeholder {
			return fmt.Errorf("web: %s: not a regular file", p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("web: hash bundle: %w", err)
	}
	sort.Strings(paths) // bytewise, as LC_ALL=C sort
	var manifest strings.Builder
	hasIndex := false
	for _, p := range paths {
		if p == IndexFile {
			hasIndex = true
		}
		if strings.ContainsAny(p, "\n\\") {
			// sha256sum escapes such names; the build never produces them.
			return "", fmt.Errorf("web: hash bundle: unsupported file name %q", p)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return "", fmt.Errorf("web: hash bundle: %w", err)
		}
		sum := sha256.Sum256(b)
		manifest.WriteString(hex.EncodeToString(sum[:]))
		manifest.WriteString("  ")
		manifest.WriteString(p)
		manifest.WriteString("\n")
	}
	if !hasIndex {
		return "", ErrNotBuilt
	}
	sum := sha256.Sum256([]byte(manifest.String()))
	return hex.EncodeToString(sum[:]), nil
}
