// Package version says which build of conclave is running.
package version

import "runtime/debug"

// release is the version of this source tree.
const release = "0.1.0-dev"

// String returns the release, with the VCS revision when the binary was built
// from a git checkout with VCS stamping.
func String() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return release
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
	if rev == "" {
		return release
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return release + "+" + rev
}
