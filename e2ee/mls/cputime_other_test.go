//go:build !unix

package mls

import "time"

// ProcessCPUTime is not measured on this platform.
func ProcessCPUTime() time.Duration { return 0 }
