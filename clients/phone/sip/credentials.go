package sip

import (
	"errors"
	"fmt"
	"strings"
)

// ErrCredentials: an Authorization header could not be parsed.
var ErrCredentials = errors.New("sip: malformed credentials")

// maxAuthorization bounds the header we parse.
const maxAuthorization = 2048

// Credentials are the fields of a Digest Authorization header (RFC 3261,
// Section 25.1, "credentials"; RFC 2617, Section 3.2.2).
type Credentials struct {
	Username, Realm, Nonce, URI, Response, Algorithm, CNonce, NC, QOP, Opaque string
}

// ParseCredentials parses "Digest k=v, k="v", ...". Unknown parameters are
// ignored; duplicates and malformed quoting are refused.
func ParseCredentials(h string) (Credentials, error) {
	var c Credentials
	if len(h) > maxAuthorization {
		return c, fmt.Errorf("%w: %d bytes", ErrCredentials, len(h))
	}
	h = strings.TrimSpace(h)
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return c, fmt.Errorf("%w: scheme", ErrCredentials)
	}
	seen := map[string]bool{}
	s := strings.TrimSpace(rest)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return c, fmt.Errorf("%w: parameter", ErrCredentials)
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			end := -1
			for i := 1; i < len(s); i++ {
				if s[i] == '\\' {
					i++
					continue
				}
				if s[i] == '"' {
					end = i
					break
				}
			}
			if end < 0 {
				return c, fmt.Errorf("%w: unterminated quote", ErrCredentials)
			}
			val = strings.ReplaceAll(s[1:end], `\"`, `"`)
			s = s[end+1:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		s = strings.TrimLeft(s, " \t")
		if s != "" {
			if s[0] != ',' {
				return c, fmt.Errorf("%w: separator", ErrCredentials)
			}
			s = strings.TrimLeft(s[1:], " \t")
		}
		if seen[key] {
			return c, fmt.Errorf("%w: duplicate %s", ErrCredentials, key)
		}
		seen[key] = true
		switch key {
		case "username":
			c.Username = val
		case "realm":
			c.Realm = val
		case "nonce":
			c.Nonce = val
		case "uri":
			c.URI = val
		case "response":
			c.Response = val
		case "algorithm":
			c.Algorithm = val
		case "cnonce":
			c.CNonce = val
		case "nc":
			c.NC = val
		case "qop":
			c.QOP = val
		case "opaque":
			c.Opaque = val
		}
	}
	if c.Username == "" || c.Nonce == "" || c.Response == "" || c.URI == "" {
		return c, fmt.Errorf("%w: missing fields", ErrCredentials)
	}
	return c, nil
}
