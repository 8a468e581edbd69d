package bot

import (
	"errors"

	"conclave/e2ee/sframe"
)

// FrameCipher end-to-end encrypts the frames a bot sends and decrypts the
// frames it receives. The wire form of a frame is its clear prefix (the codec
// bytes the SFU may read, interfaces point 4) followed by an SFrame ciphertext
// (RFC 9605, Section 4.2) that authenticates the prefix as metadata.
//
// Implementations must be safe for concurrent use: a bot seals from its media
// goroutine and opens from one goroutine per received track.
type FrameCipher interface {
	// Seal appends the wire form of frame, an encoded frame of the given
	// kind, to dst and returns the extended slice.
	Seal(dst []byte, kind Kind, frame []byte) ([]byte, error)
	// Open appends the encoded frame carried by wire to dst and returns the
	// extended slice. Every failure to authenticate is one opaque error.
	Open(dst []byte, kind Kind, wire []byte) ([]byte, error)
}

// KeyStatus is implemented by FrameCiphers keyed by an MLS group (E2EE), so
// that the report can show the epoch and security code.
type KeyStatus interface {
	Epoch() string
	SecurityCode() string
}

// ErrPlaintextOpen is returned by the unencrypted cipher when asked to open
// a frame that does not look like a bot frame.
var ErrPlaintextOpen = errors.New("bot: frame is not a plaintext bot frame")

// plaintext is the FrameCipher of a bot that declares encryption NONE. It
// exists only so that tests can check that servers refuse such tracks.
type plaintext struct{}

func (plaintext) Seal(dst []byte, _ Kind, frame []byte) ([]byte, error) {
	return append(dst, frame...), nil
}

func (plaintext) Open(dst []byte, kind Kind, wire []byte) ([]byte, error) {
	body, err := frameBody(kind, wire)
	if err != nil {
		return nil, ErrPlaintextOpen
	}
	if _, err := ParsePayload(body); err != nil {
		return nil, ErrPlaintextOpen
	}
	return append(dst, wire...), nil
}

// SFrameCipher is the FrameCipher of RFC 9605 with the clear-prefix rules of
// package sframe (VP8: RFC 6386 Section 9.1, Opus: RFC 6716 Section 3.1).
type SFrameCipher struct {
	sender   *sframe.Sender
	receiver sframe.Decrypter
}

var _ FrameCipher = (*SFrameCipher)(nil)

// NewSFrameCipher returns a FrameCipher that encrypts with s and decrypts
// with r (an *sframe.Receiver or *sframe.MLSReceiver).
func NewSFrameCipher(s *sframe.Sender, r sframe.Decrypter) *SFrameCipher {
	return &SFrameCipher{sender: s, receiver: r}
}

func codecOf(k Kind) sframe.Codec {
	if k == KindVideo {
		return sframe.CodecVP8
	}
	return sframe.CodecOpus
}

// keysArriveLate reports whether c's receiving keys come with MLS epochs
// (an *sframe.MLSReceiver), so that a frame may arrive before its key.
func (c *SFrameCipher) keysArriveLate() bool {
	_, ok := c.receiver.(*sframe.MLSReceiver)
	return ok
}

// lateKeyed is implemented by FrameCiphers whose receiving keys can be
// installed after the frames they key arrive (MLS epochs, RFC 9605,
// Section 5.2): a frame with an unknown key is worth holding for them
// (Section 4.4.4), while with fixed keys it will never decrypt.
type lateKeyed interface{ keysArriveLate() bool }

func keysArriveLate(c FrameCipher) bool {
	l, ok := c.(lateKeyed)
	return ok && l.keysArriveLate()
}

// Seal implements FrameCipher.
func (c *SFrameCipher) Seal(dst []byte, kind Kind, frame []byte) ([]byte, error) {
	return sframe.EncryptFrame(c.sender, codecOf(kind), dst, frame)
}

// Open implements FrameCipher.
func (c *SFrameCipher) Open(dst []byte, kind Kind, wire []byte) ([]byte, error) {
	return sframe.DecryptFrame(c.receiver, codecOf(kind), dst, wire)
}
