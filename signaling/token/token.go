// Package token issues and verifies the short-lived access tokens that admit a
// participant to one room's signaling and media. They are LiveKit access
// tokens (HS256 JWTs carrying a VideoGrant), so the stock livekit-client SDK
// and LiveKit's own server accept the same format.
//
// A token names the room by its room key (see signaling.RoomKey), never by the
// raw room ID, so nothing downstream of /api/join ever holds the capability.
// A token admits a participant to the room's transport; it does not admit it to
// the meeting's content, which only the MLS group's members can decrypt.
package token

import (
	"errors"
	"fmt"
	"time"

	"github.com/livekit/protocol/auth"
)

// ErrInvalid is returned for any token that is malformed, badly signed,
// expired, issued by another key, or lacking a room grant. The reason is
// wrapped for logs; callers should answer every case alike.
var ErrInvalid = errors.New("token: invalid access token")

// Claims is what a token says about its holder.
type Claims struct {
	Identity     string // participant identity, random per join
	Name         string // display name chosen by the participant
	Room         string // room key
	Metadata     string // JSON, e.g. {"kind":"bot"}
	CanPublish   bool
	CanSubscribe bool
	ExpiresAt    time.Time
}

// Issuer mints tokens signed with one API key's secret.
type Issuer struct {
	apiKey string
	secret string
}

// NewIssuer returns an Issuer for apiKey. The secret must be at least 32 bytes.
func NewIssuer(apiKey string, secret []byte) *Issuer {
	return &Issuer{apiKey: apiKey, secret: string(secret)}
}

// Issue mints a token for c valid for ttl from now.
func (i *Issuer) Issue(c Claims, ttl time.Duration) (string, error) {
	if c.Room == "" || c.Identity == "" {
		return "", errors.New("token: issue: room and identity are required")
	}
	// livekit's SetValidFor ignores a non-positive duration and falls back to
	// hours: refuse it rather than mint a long-lived token by mistake.
	if ttl <= 0 {
		return "", errors.New("token: issue: ttl must be positive")
	}
	pub, sub := c.CanPublish, c.CanSubscribe
	at := auth.NewAccessToken(i.apiKey, i.secret).
		SetIdentity(c.Identity).
		SetName(c.Name).
		SetMetadata(c.Metadata).
		SetValidFor(ttl).
		SetVideoGrant(&auth.VideoGrant{
			RoomJoin:     true,
			Room:         c.Room,
			CanPublish:   &pub,
			CanSubscribe: &sub,
		})
	s, err := at.ToJWT()
	if err != nil {
		return "", fmt.Errorf("token: issue: %w", err)
	}
	return s, nil
}

// Verifier checks tokens signed with one API key's secret.
type Verifier struct {
	apiKey string
	secret string
}

// NewVerifier returns a Verifier for apiKey.
func NewVerifier(apiKey string, secret []byte) *Verifier {
	return &Verifier{apiKey: apiKey, secret: string(secret)}
}

// Verify checks the signature, issuer, expiry (against now as well as the
// wall clock) and room grant of tok, and returns its claims.
func (v *Verifier) Verify(tok string, now time.Time) (*Claims, error) {
	if len(tok) == 0 || len(tok) > 8192 {
		return nil, fmt.Errorf("%w: bad length", ErrInvalid)
	}
	p, err := auth.ParseAPIToken(tok)
	if err != nil {
		return nil, fmt.Errorf("%w: parse: %w", ErrInvalid, err)
	}
	if p.APIKey() != v.apiKey {
		return nil, fmt.Errorf("%w: unknown API key", ErrInvalid)
	}
	reg, grants, err := p.Verify(v.secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if reg.ExpiresAt == nil || !now.Before(reg.ExpiresAt.Time) {
		return nil, fmt.Errorf("%w: expired", ErrInvalid)
	}
	if grants.Video == nil || !grants.Video.RoomJoin || grants.Video.Room == "" || grants.Identity == "" {
		return nil, fmt.Errorf("%w: no room grant", ErrInvalid)
	}
	c := &Claims{
		Identity:  grants.Identity,
		Name:      grants.Name,
		Room:      grants.Video.Room,
		Metadata:  grants.Metadata,
		ExpiresAt: reg.ExpiresAt.Time,
	}
	c.CanPublish = grants.Video.CanPublish == nil || *grants.Video.CanPublish
	c.CanSubscribe = grants.Video.CanSubscribe == nil || *grants.Video.CanSubscribe
	return c, nil
}
