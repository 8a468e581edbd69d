package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/blake2b"
)

// Errors. Each is wrapped with context; test with errors.Is.
var (
	// ErrMalformed: a key or signature file is not in minisign's format.
	ErrMalformed = errors.New("release: malformed key or signature")
	// ErrEncryptedKey: a password-protected minisign secret key (sign with
	// minisign itself, or make an unencrypted key with release-keygen).
	ErrEncryptedKey = errors.New("release: encrypted secret keys are not supported")
	// ErrKeyMismatch: the signature was made by another key.
	ErrKeyMismatch = errors.New("release: signature is from a different key")
	// ErrBadSignature: the signature or its trusted comment does not verify.
	ErrBadSignature = errors.New("release: signature does not verify")
)

// Bounds on what the parsers accept before decoding anything.
const (
	// MaxFile bounds a key or signature file.
	MaxFile = 4096
	// maxComment bounds a comment line (minisign's own limit is 1024).
	maxComment = 1024
)

var (
	algEd       = [2]byte{'E', 'd'} // Ed25519 over the message itself (legacy)
	algPrehash  = [2]byte{'E', 'D'} // Ed25519 over BLAKE2b-512 of the message
	kdfNone     = [2]byte{0, 0}
	checksumB2  = [2]byte{'B', '2'}
	untrustedPf = "untrusted comment: "
	trustedPf   = "trusted comment: "
)

// KeyID is minisign's 8-byte key identifier.
type KeyID [8]byte

// String is the ID as minisign prints it: the little-endian 64-bit number in
// upper-case hex.
func (id KeyID) String() string { return fmt.Sprintf("%016X", binary.LittleEndian.Uint64(id[:])) }

// PublicKey verifies releases.
type PublicKey struct {
	ID  KeyID
	Key ed25519.PublicKey
}

// SecretKey signs releases. Keep its file readable by its owner only.
type SecretKey struct {
	ID  KeyID
	Key ed25519.PrivateKey
}

// GenerateKey makes a key pair with a random key ID.
func GenerateKey(rand io.Reader) (SecretKey, error) {
	var id KeyID
	if _, err := io.ReadFull(rand, id[:]); err != nil {
		return SecretKey{}, fmt.Errorf("release: key id: %w", err)
	}
	_, sk, err := ed25519.GenerateKey(rand)
	if err != nil {
		return SecretKey{}, fmt.Errorf("release: generate key: %w", err)
	}
	return SecretKey{ID: id, Key: sk}, nil
}

// Public returns the verifying half of s.
func (s SecretKey) Public() PublicKey {
	return PublicKey{ID: s.ID, Key: s.Key.Public().(ed25519.PublicKey)}
}

// Marshal returns the public key file.
func (p PublicKey) Marshal() []byte {
	raw := append(append(algEd[:], p.ID[:]...), p.Key...)
	return []byte(untrustedPf + "minisign public key " + p.ID.String() + "\n" + base64.StdEncoding.EncodeToString(raw) + "\n")
}

// Base64 is the key's one-line form, as given to `minisign -P`.
func (p PublicKey) Base64() string {
	return base64.StdEncoding.EncodeToString(append(append(algEd[:], p.ID[:]...), p.Key...))
}

// ParsePublicKey reads a public key file, or its base64 line alone.
func ParsePublicKey(b []byte) (PublicKey, error) {
	if len(b) > MaxFile {
		return PublicKey{}, fmt.Errorf("%w: public key longer than %d bytes", ErrMalformed, MaxFile)
	}
	lines := splitLines(b)
	if len(lines) == 2 && strings.HasPrefix(lines[0], untrustedPf) {
		lines = lines[1:]
	}
	if len(lines) != 1 {
		return PublicKey{}, fmt.Errorf("%w: public key: want a comment and one base64 line", ErrMalformed)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(lines[0])
	if err != nil || len(raw) != 2+8+ed25519.PublicKeySize || [2]byte(raw[:2]) != algEd {
		return PublicKey{}, fmt.Errorf("%w: public key is not an Ed25519 minisign key", ErrMalformed)
	}
	var p PublicKey
	copy(p.ID[:], raw[2:10])
	p.Key = ed25519.PublicKey(bytes.Clone(raw[10:]))
	return p, nil
}

// secret key layout (unencrypted).
const (
	skHeader = 2 + 2 + 2 + 32 + 8 + 8 // algorithm, KDF, checksum algorithm, salt, ops limit, mem limit
	skLen    = skHeader + 8 + ed25519.PrivateKeySize + 32
)

// checksum is minisign's: BLAKE2b-256 over algorithm || key ID || secret key.
func (s SecretKey) checksum() [32]byte {
	h, _ := blake2b.New256(nil) // no key: cannot fail
	h.Write(algEd[:])
	h.Write(s.ID[:])
	h.Write(s.Key)
	var c [32]byte
	copy(c[:], h.Sum(nil))
	return c
}

// Marshal returns the secret key file, unencrypted (as `minisign -G -W`).
func (s SecretKey) Marshal() []byte {
	raw := make([]byte, 0, skLen)
	raw = append(raw, algEd[:]...)
	raw = append(raw, kdfNone[:]...)
	raw = append(raw, checksumB2[:]...)
	raw = append(raw, make([]byte, 32+8+8)...)
	raw = append(raw, s.ID[:]...)
	raw = append(raw, s.Key...)
	c := s.checksum()
	raw = append(raw, c[:]...)
	return []byte(untrustedPf + "conclave release secret key (unencrypted; keep it offline)\n" + base64.StdEncoding.EncodeToString(raw) + "\n")
}

// ParseSecretKey reads an unencrypted minisign secret key file. The
// checksum must match, or be all zero (minisign 0.11 leaves it so in keys
// made without a password).
func ParseSecretKey(b []byte) (SecretKey, error) {
	if len(b) > MaxFile {
		return SecretKey{}, fmt.Errorf("%w: secret key longer than %d bytes", ErrMalformed, MaxFile)
	}
	lines := splitLines(b)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], untrustedPf) {
		return SecretKey{}, fmt.Errorf("%w: secret key: want a comment and one base64 line", ErrMalformed)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(lines[1])
	if err != nil || len(raw) != skLen || [2]byte(raw[:2]) != algEd || [2]byte(raw[4:6]) != checksumB2 {
		return SecretKey{}, fmt.Errorf("%w: secret key is not an Ed25519 minisign key", ErrMalformed)
	}
	if [2]byte(raw[2:4]) != kdfNone {
		return SecretKey{}, ErrEncryptedKey
	}
	var s SecretKey
	copy(s.ID[:], raw[skHeader:skHeader+8])
	s.Key = ed25519.PrivateKey(bytes.Clone(raw[skHeader+8 : skHeader+8+ed25519.PrivateKeySize]))
	got := raw[skHeader+8+ed25519.PrivateKeySize:]
	want := s.checksum()
	if subtle.ConstantTimeCompare(got, want[:]) != 1 && !allZero(got) {
		return SecretKey{}, fmt.Errorf("%w: secret key checksum", ErrMalformed)
	}
	// The secret key embeds its public half: they must agree.
	if !bytes.Equal(ed25519.NewKeyFromSeed(s.Key.Seed()), s.Key) {
		return SecretKey{}, fmt.Errorf("%w: secret key halves disagree", ErrMalformed)
	}
	return s, nil
}

// Sign returns the signature file of msg: a prehashed ("ED") signature and
// trustedComment signed with it. The comment is one line; Ed25519 being
// deterministic, the same inputs give the same file.
func Sign(s SecretKey, msg []byte, trustedComment string) ([]byte, error) {
	if strings.ContainsAny(trustedComment, "\r\n") || len(trustedComment) > maxComment {
		return nil, fmt.Errorf("release: trusted comment must be one line of at most %d bytes", maxComment)
	}
	digest := blake2b.Sum512(msg)
	sig := ed25519.Sign(s.Key, digest[:])
	global := ed25519.Sign(s.Key, append(bytes.Clone(sig), trustedComment...))
	line := append(append(algPrehash[:], s.ID[:]...), sig...)
	var out strings.Builder
	out.WriteString(untrustedPf + "signature from conclave release key " + s.ID.String() + "\n")
	out.WriteString(base64.StdEncoding.EncodeToString(line) + "\n")
	out.WriteString(trustedPf + trustedComment + "\n")
	out.WriteString(base64.StdEncoding.EncodeToString(global) + "\n")
	return []byte(out.String()), nil
}

// Verify checks the signature file sigFile over msg with p, and returns the
// trusted comment, which the signature covers too.
func Verify(p PublicKey, msg, sigFile []byte) (string, error) {
	if len(sigFile) > MaxFile {
		return "", fmt.Errorf("%w: signature longer than %d bytes", ErrMalformed, MaxFile)
	}
	lines := splitLines(sigFile)
	if len(lines) != 4 || !strings.HasPrefix(lines[0], untrustedPf) || !strings.HasPrefix(lines[2], trustedPf) {
		return "", fmt.Errorf("%w: signature: want four lines (comment, signature, trusted comment, global signature)", ErrMalformed)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(lines[1])
	if err != nil || len(raw) != 2+8+ed25519.SignatureSize {
		return "", fmt.Errorf("%w: signature line", ErrMalformed)
	}
	global, err := base64.StdEncoding.Strict().DecodeString(lines[3])
	if err != nil || len(global) != ed25519.SignatureSize {
		return "", fmt.Errorf("%w: global signature line", ErrMalformed)
	}
	alg, sig := [2]byte(raw[:2]), raw[10:]
	if KeyID(raw[2:10]) != p.ID {
		return "", fmt.Errorf("%w: signed by %s, key is %s", ErrKeyMismatch, KeyID(raw[2:10]), p.ID)
	}
	signed := msg
	switch alg {
	case algPrehash:
		d := blake2b.Sum512(msg)
		signed = d[:]
	case algEd:
	default:
		return "", fmt.Errorf("%w: unknown signature algorithm", ErrMalformed)
	}
	if len(p.Key) != ed25519.PublicKeySize || !ed25519.Verify(p.Key, signed, sig) {
		return "", fmt.Errorf("%w: file signature", ErrBadSignature)
	}
	comment := strings.TrimPrefix(lines[2], trustedPf)
	if !ed25519.Verify(p.Key, append(bytes.Clone(sig), comment...), global) {
		return "", fmt.Errorf("%w: trusted comment", ErrBadSignature)
	}
	return comment, nil
}

// splitLines splits on "\n" (tolerating "\r\n"), dropping one final empty
// line; lines longer than maxComment+100 make the whole input malformed
// (returned as no lines).
func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if len(l) > maxComment+len(untrustedPf) {
			return nil
		}
		lines[i] = l
	}
	return lines
}

func allZero(b []byte) bool {
	var acc byte
	for _, x := range b {
		acc |= x
	}
	return acc == 0
}
