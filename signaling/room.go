package signaling

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// RoomID is a meeting's capability: 128 random bits, base64url without
// padding (22 characters). Whoever holds it can ask to join; the server keeps
// only its hash. It redacts itself in logs.
type RoomID string

// LogValue keeps room IDs out of logs; log the RoomKey instead.
func (RoomID) LogValue() string { return "[room id redacted]" }

// String redacts the ID so that a stray %v cannot leak it.
func (RoomID) String() string { return "[room id redacted]" }

// RoomHash is SHA-256("conclave room " || RoomID): what the store keeps.
type RoomHash [32]byte

// RoomKey names a room after admission: the lowercase hex of the first 16
// bytes of its RoomHash. Tokens, the SFU, logs and metrics use it.
type RoomKey string

// roomIDLen is the encoded length of 16 bytes in unpadded base64url.
const roomIDLen = 22

var errBadRoomID = errors.New("signaling: malformed room id")

// NewRoomID draws a fresh room ID from r (crypto/rand.Reader in production).
func NewRoomID(r io.Reader) (RoomID, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("signaling: new room id: %w", err)
	}
	return RoomID(base64.RawURLEncoding.EncodeToString(b[:])), nil
}

// ParseRoomID checks that s has the shape of a room ID.
func ParseRoomID(s string) (RoomID, error) {
	if len(s) != roomIDLen {
		return "", errBadRoomID
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 16 {
		return "", errBadRoomID
	}
	return RoomID(s), nil
}

// Hash returns the value the store keeps for id.
func (id RoomID) Hash() RoomHash {
	return sha256.Sum256([]byte("conclave room " + string(id)))
}

// Key returns the room key derived from h.
func (h RoomHash) Key() RoomKey { return RoomKey(hex.EncodeToString(h[:16])) }

// randReader reads from crypto/rand.
type randReader struct{}

func (randReader) Read(p []byte) (int, error) { return rand.Read(p) }

// NewLinkSecret draws the 128-bit fragment secret of a meeting link. The
// server makes one only for the first link it prints at start-up and never
// stores it; browsers make their own.
func NewLinkSecret() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("signaling: link secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// MeetingLink formats the capability link for a meeting.
func MeetingLink(baseURL string, id RoomID, secret string) string {
	return baseURL + "/m/" + string(id) + "#" + secret
}
