package keyschedule

import (
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
)

// Secret is a byte string that must never be printed or logged. It is a
// []byte, so it can be passed wherever one is expected, but fmt and log/slog
// show only "REDACTED".
type Secret []byte

// String redacts the secret.
func (s Secret) String() string { return "REDACTED" }

// Format redacts the secret for every fmt verb, including %x and %#v.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "REDACTED") }

// LogValue redacts the secret in log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Equal reports whether s and other are equal, in time that depends only on
// their lengths.
func (s Secret) Equal(other []byte) bool {
	return subtle.ConstantTimeCompare(s, other) == 1
}

// wipe overwrites s with zeros. Go may have copied the bytes elsewhere (the
// garbage collector does not move heap objects today, but callers may hold
// copies), so this is best effort, as RFC 9420, Section 9.2 asks for.
func wipe(s []byte) {
	clear(s)
}

var (
	_ fmt.Stringer   = Secret(nil)
	_ fmt.Formatter  = Secret(nil)
	_ slog.LogValuer = Secret(nil)
)
