// Package version says which build of conclave is running: the release, the
// git commit it was built from, the Go toolchain and build settings, and the
// exact module versions compiled in (DESIGN.md P8: code you can check). It
// reads only the binary's own build information; it never sees meeting data.
package version

import (
	"regexp"
	"runtime/debug"
	"strings"
)

// release is the version of this source tree.
const release = "0.1.0-dev"

// commit is the full git commit of a release build, set by the linker:
//
//	go build -ldflags "-X conclave/internal/version.commit=$(git rev-parse HEAD)"
//
// Release builds turn VCS stamping off (-buildvcs=false: it would record the
// working tree's state and time) and name the commit this way instead, so
// that two builds of one commit are identical. Only the linker writes it.
var commit string

var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// Commit returns the git commit this binary was built from: the one the
// release build named, else the VCS stamp of a build from a checkout with
// "-dirty" appended when the tree had changes, else "" (unknown).
func Commit() string {
	if commitPattern.MatchString(commit) {
		return commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

// String returns the release, with the short commit when known, e.g.
// "0.1.0-dev+0123456789ab".
func String() string {
	c := Commit()
	if c == "" {
		return release
	}
	short, dirty := strings.CutSuffix(c, "-dirty")
	if len(short) > 12 {
		short = short[:12]
	}
	if dirty {
		short += "-dirty"
	}
	return release + "+" + short
}

// Module is one module compiled into the binary.
type Module struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	// Sum is the go.sum hash of the module's content ("" for the main
	// module and for replaced modules without one).
	Sum string `json:"sum,omitempty"`
	// Replace names the module that replaced this one, if any.
	Replace string `json:"replace,omitempty"`
}

// Build is everything the binary knows about how it was built.
type Build struct {
	Release   string   `json:"release"`
	Commit    string   `json:"commit"`
	GoVersion string   `json:"go"`
	Settings  []string `json:"settings"` // "KEY=VALUE": -trimpath, -ldflags, CGO_ENABLED, GOOS, ...
	Modules   []Module `json:"modules"`  // dependencies, in go.sum order (sorted by path)
}

// Read returns the build information of the running binary.
func Read() Build {
	b := Build{Release: release, Commit: Commit()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = info.GoVersion
	for _, s := range info.Settings {
		b.Settings = append(b.Settings, s.Key+"="+s.Value)
	}
	for _, d := range info.Deps {
		m := Module{Path: d.Path, Version: d.Version, Sum: d.Sum}
		if d.Replace != nil {
			m.Replace = d.Replace.Path + "@" + d.Replace.Version
			m.Sum = d.Replace.Sum
		}
		b.Modules = append(b.Modules, m)
	}
	return b
}
