package tls

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// FuzzVarint checks that every accepted varint is minimal: re-encoding the
// decoded value reproduces exactly the bytes consumed.
func FuzzVarint(f *testing.F) {
	for _, s := range []string{"00", "0d", "3f", "4040", "40ff", "4185", "7fff", "80004000", "8000beef", "bfffffff", "4000", "c0", "8000003f"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(in)
		v, err := r.Varint()
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrVarintPrefix) && !errors.Is(err, ErrVarintNotMinimal) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		var w Writer
		w.Varint(v)
		enc, err := w.Bytes()
		if err != nil {
			t.Fatalf("decoded %d but cannot encode it: %v", v, err)
		}
		if !bytes.Equal(enc, in[:r.Offset()]) {
			t.Fatalf("decoded %x as %d, which encodes as %x", in[:r.Offset()], v, enc)
		}
	})
}

// FuzzReader decodes the test structure (every Reader method) from arbitrary
// bytes; whatever decodes must re-encode to exactly the input.
func FuzzReader(f *testing.F) {
	seven := uint32(7)
	for _, s := range []testStruct{
		{a: 1, b: 2, c: 3, d: 4, flag: true, data: []byte{1, 2}, list: [][]byte{{1}, {}, bytes.Repeat([]byte{3}, 70)}, opt: &seven},
		{},
	} {
		enc, err := Marshal(&s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		var s testStruct
		if err := Unmarshal(in, &s); err != nil {
			return
		}
		enc, err := Marshal(&s)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		if !bytes.Equal(enc, in) {
			t.Fatalf("round trip changed bytes:\n in %x\nout %x", in, enc)
		}
	})
}
