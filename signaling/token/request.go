package token

import (
	"net/http"
	"strings"
)

// FromRequest returns the access token a request carries: the access_token
// query parameter (how livekit-client and browsers' WebSockets send it) or
// an Authorization: Bearer header. Empty if neither.
func FromRequest(r *http.Request) string {
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		return strings.TrimPrefix(a, "Bearer ")
	}
	return ""
}
