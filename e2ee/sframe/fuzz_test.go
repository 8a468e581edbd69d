package sframe

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseHeader: any input either fails with ErrMalformedHeader or parses
// to a header whose canonical encoding is exactly the bytes consumed.
func FuzzParseHeader(f *testing.F) {
	for _, c := range loadVectors(f).Header {
		f.Add([]byte(c.Encoded))
	}
	f.Add([]byte{})
	f.Add([]byte{0x80, 0x00})
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedHeader) {
				t.Fatalf("error %v is not ErrMalformedHeader", err)
			}
			return
		}
		if n < 1 || n > MaxHeaderSize || n > len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		if enc := h.AppendTo(nil); !bytes.Equal(enc, b[:n]) || h.MarshalSize() != n {
			t.Fatalf("header %+v re-encodes to %x, parsed from %x", h, enc, b[:n])
		}
	})
}

// FuzzDecrypt: arbitrary bytes given to a Receiver holding the vectors'
// keys never panic, fail with one of the package's errors, and succeed only
// for the genuine vector frames (forging a tag is out of a fuzzer's reach).
func FuzzDecrypt(f *testing.F) {
	v := loadVectors(f)
	for _, c := range v.SFrame {
		f.Add(uint8(c.CipherSuite), []byte(c.Metadata), []byte(c.CT))
	}
	f.Add(uint8(4), []byte{}, []byte{0x00})
	f.Add(uint8(1), []byte{}, []byte{0x99, 1, 2, 3})
	f.Fuzz(func(t *testing.T, suite uint8, metadata, frame []byte) {
		var vec *sframeVector
		for i := range v.SFrame {
			if uint8(v.SFrame[i].CipherSuite) == suite {
				vec = &v.SFrame[i]
			}
		}
		if vec == nil {
			return
		}
		r, err := NewReceiver(vec.CipherSuite)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.AddKey(KeyID(vec.KID), vec.BaseKey); err != nil {
			t.Fatal(err)
		}
		pt, err := r.Decrypt(nil, metadata, frame)
		if err == nil {
			if !bytes.Equal(frame, vec.CT) || !bytes.Equal(metadata, vec.Metadata) || !bytes.Equal(pt, vec.PT) {
				t.Fatalf("accepted a frame that is not the vector's: %x", frame)
			}
			return
		}
		for _, want := range []error{ErrMalformedHeader, ErrShortFrame, ErrUnknownKey, ErrAuth} {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("unexpected error %v", err)
	})
}

// FuzzDecryptFrame: codec framing of arbitrary wire bytes never panics and
// fails with a package error.
func FuzzDecryptFrame(f *testing.F) {
	s, err := NewSender(AES128GCMSHA256_128, 1, testBaseKey(AES128GCMSHA256_128))
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range []struct {
		codec Codec
		frame []byte
	}{{CodecVP8, vp8Key}, {CodecVP8, vp8Delta}, {CodecOpus, opusFrame}, {CodecH264, h264IDR}} {
		wire, err := EncryptFrame(s, c.codec, nil, c.frame)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(c.codec), wire)
	}
	f.Fuzz(func(t *testing.T, codec uint8, wire []byte) {
		c := Codec(codec % 4)
		r, err := NewReceiver(AES128GCMSHA256_128)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.AddKey(1, testBaseKey(AES128GCMSHA256_128)); err != nil {
			t.Fatal(err)
		}
		got, err := DecryptFrame(r, c, nil, wire)
		if err == nil {
			// Only a genuine frame decrypts; re-encrypting it must give a
			// frame with the same clear prefix.
			n, _ := ClearPrefixLen(c, got)
			if !bytes.Equal(got[:n], wire[:n]) {
				t.Fatalf("clear prefix changed by decryption")
			}
			return
		}
		for _, want := range []error{ErrMalformedHeader, ErrShortFrame, ErrUnknownKey, ErrAuth} {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("unexpected error %v", err)
	})
}
