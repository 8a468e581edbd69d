package tls

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"conclave/internal/vectors"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestDeserializationVectors checks the official variable-length header
// vectors (deserialization.json): each header decodes to its length and the
// length re-encodes to the same header.
func TestDeserializationVectors(t *testing.T) {
	var vs []struct {
		Header string `json:"vlbytes_header"`
		Length uint64 `json:"length"`
	}
	vectors.Load(t, "mls", "deserialization.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for i, v := range vs {
		t.Run(fmt.Sprintf("%d/%s", i, v.Header), func(t *testing.T) {
			hdr := mustHex(t, v.Header)
			r := NewReader(hdr)
			got, err := r.Varint()
			if err != nil {
				t.Fatalf("Varint: %v", err)
			}
			if got != v.Length {
				t.Fatalf("got %d, want %d", got, v.Length)
			}
			if err := r.Done(); err != nil {
				t.Fatal(err)
			}
			var w Writer
			w.Varint(v.Length)
			enc, err := w.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, hdr) {
				t.Fatalf("re-encoded %x, want %x", enc, hdr)
			}
		})
	}
}

func TestVarint(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want uint64
		err  error
	}{
		{"rfc-4byte", "9d7f3e7d", 494878333, nil},
		{"rfc-2byte", "7bbd", 15293, nil},
		{"rfc-1byte", "25", 37, nil},
		{"zero", "00", 0, nil},
		{"max1", "3f", 63, nil},
		{"min2", "4040", 64, nil},
		{"max2", "7fff", 16383, nil},
		{"min4", "80004000", 16384, nil},
		{"max4", "bfffffff", MaxVarint, nil},
		{"prefix11", "c0", 0, ErrVarintPrefix},
		{"prefix11-long", "ffffffffffffffff", 0, ErrVarintPrefix},
		{"nonminimal-2-for-0", "4000", 0, ErrVarintNotMinimal},
		{"nonminimal-2-for-63", "403f", 0, ErrVarintNotMinimal},
		{"nonminimal-4-for-63", "8000003f", 0, ErrVarintNotMinimal},
		{"nonminimal-4-for-16383", "80003fff", 0, ErrVarintNotMinimal},
		{"truncated-2", "40", 0, ErrTruncated},
		{"truncated-4", "800040", 0, ErrTruncated},
		{"empty", "", 0, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewReader(mustHex(t, tc.in)).Varint()
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestWriterVarintRange(t *testing.T) {
	var w Writer
	w.Varint(MaxVarint + 1)
	if _, err := w.Bytes(); !errors.Is(err, ErrVarintRange) {
		t.Fatalf("err = %v, want ErrVarintRange", err)
	}
	w.Reset()
	w.Varint(MaxVarint)
	if b, err := w.Bytes(); err != nil || !bytes.Equal(b, []byte{0xbf, 0xff, 0xff, 0xff}) {
		t.Fatalf("got %x, %v", b, err)
	}
}

// testStruct exercises every Writer/Reader method in one structure.
type testStruct struct {
	a    uint8
	b    uint16
	c    uint32
	d    uint64
	flag bool
	raw  [3]byte
	data []byte
	list [][]byte
	opt  *uint32
}

func (s *testStruct) MarshalTLS(w *Writer) {
	w.Uint8(s.a)
	w.Uint16(s.b)
	w.Uint32(s.c)
	w.Uint64(s.d)
	w.Bool(s.flag)
	w.Raw(s.raw[:])
	w.Opaque(s.data)
	w.Vector(func(w *Writer) {
		for _, e := range s.list {
			w.Opaque(e)
		}
	})
	w.Optional(s.opt != nil, func(w *Writer) { w.Uint32(*s.opt) })
}

func (s *testStruct) UnmarshalTLS(r *Reader) error {
	var err error
	if s.a, err = r.Uint8(); err != nil {
		return err
	}
	if s.b, err = r.Uint16(); err != nil {
		return err
	}
	if s.c, err = r.Uint32(); err != nil {
		return err
	}
	if s.d, err = r.Uint64(); err != nil {
		return err
	}
	if s.flag, err = r.Bool(); err != nil {
		return err
	}
	raw, err := r.Raw(3)
	if err != nil {
		return err
	}
	copy(s.raw[:], raw)
	if s.data, err = r.Opaque(1 << 16); err != nil {
		return err
	}
	v, err := r.Vector(1 << 20)
	if err != nil {
		return err
	}
	s.list = nil
	for !v.Empty() {
		e, err := v.Opaque(1 << 16)
		if err != nil {
			return err
		}
		s.list = append(s.list, e)
	}
	present, err := r.Optional()
	if err != nil {
		return err
	}
	s.opt = nil
	if present {
		x, err := r.Uint32()
		if err != nil {
			return err
		}
		s.opt = &x
	}
	return nil
}

func TestRoundTrip(t *testing.T) {
	seven := uint32(7)
	tests := []struct {
		name string
		in   testStruct
		want string
	}{
		{
			name: "small",
			in:   testStruct{a: 1, b: 0x0203, c: 0x04050607, d: 0x08090a0b0c0d0e0f, flag: true, raw: [3]byte{9, 9, 9}, data: []byte{0xaa}, list: [][]byte{{1}, {}}, opt: &seven},
			want: "01" + "0203" + "04050607" + "08090a0b0c0d0e0f" + "01" + "090909" + "01aa" + "03" + "0101" + "00" + "01" + "00000007",
		},
		{
			name: "empty-fields",
			in:   testStruct{},
			want: "00" + "0000" + "00000000" + "0000000000000000" + "00" + "000000" + "00" + "00" + "00",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := Marshal(&tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(enc); got != tc.want {
				t.Fatalf("encoded %s, want %s", got, tc.want)
			}
			var out testStruct
			if err := Unmarshal(enc, &out); err != nil {
				t.Fatal(err)
			}
			again, err := Marshal(&out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, enc) {
				t.Fatalf("round trip %x != %x", again, enc)
			}
			// Every strict prefix must fail with ErrTruncated, never panic.
			for i := 0; i < len(enc); i++ {
				var s testStruct
				if err := Unmarshal(enc[:i], &s); !errors.Is(err, ErrTruncated) {
					t.Fatalf("prefix %d: err = %v, want ErrTruncated", i, err)
				}
			}
			// An extra byte must be reported as trailing data.
			var s testStruct
			if err := Unmarshal(append(enc[:len(enc):len(enc)], 0), &s); !errors.Is(err, ErrTrailingData) {
				t.Fatalf("trailing byte: err = %v, want ErrTrailingData", err)
			}
		})
	}
}

// TestVectorHeaderSizes checks the in-place header insertion at each varint
// size boundary, including nested vectors.
func TestVectorHeaderSizes(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 16383, 16384, 70000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			body := bytes.Repeat([]byte{0x5a}, n)
			w := NewWriter([]byte{0xee})
			w.Vector(func(w *Writer) {
				w.Vector(func(w *Writer) { w.Raw(body) })
			})
			enc, err := w.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			r := NewReader(enc)
			if b, _ := r.Uint8(); b != 0xee {
				t.Fatalf("prefix byte lost: %x", b)
			}
			outer, err := r.Vector(-1)
			if err != nil {
				t.Fatal(err)
			}
			inner, err := outer.Opaque(-1)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(inner, body) || !outer.Empty() || r.Done() != nil {
				t.Fatalf("nested vector of %d bytes did not round trip", n)
			}
		})
	}
}

func TestReaderLimits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		read func(r *Reader) error
		err  error
	}{
		{"opaque-over-max", "0401020304", func(r *Reader) error { _, err := r.Opaque(3); return err }, ErrTooLong},
		{"opaque-at-max", "03010203", func(r *Reader) error { _, err := r.Opaque(3); return err }, nil},
		{"opaque-longer-than-input", "bfffffff00", func(r *Reader) error { _, err := r.Opaque(-1); return err }, ErrTruncated},
		{"vector-over-max", "0401020304", func(r *Reader) error { _, err := r.Vector(2); return err }, ErrTooLong},
		{"vector-longer-than-input", "0501", func(r *Reader) error { _, err := r.Vector(100); return err }, ErrTruncated},
		{"optional-2", "02", func(r *Reader) error { _, err := r.Optional(); return err }, ErrOptionalPresence},
		{"bool-2", "02", func(r *Reader) error { _, err := r.Bool(); return err }, ErrBool},
		{"raw-short", "0102", func(r *Reader) error { _, err := r.Raw(3); return err }, ErrTruncated},
		{"raw-negative", "0102", func(r *Reader) error { _, err := r.Raw(-1); return err }, ErrTruncated},
		{"uint64-short", "01020304050607", func(r *Reader) error { _, err := r.Uint64(); return err }, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.read(NewReader(mustHex(t, tc.in)))
			if tc.err == nil && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

// TestOpaqueCopies checks that decoded bytes do not alias the input, so a
// caller reusing its receive buffer cannot corrupt decoded keys.
func TestOpaqueCopies(t *testing.T) {
	in := []byte{2, 0xaa, 0xbb}
	b, err := NewReader(in).Opaque(-1)
	if err != nil {
		t.Fatal(err)
	}
	in[1] = 0
	if b[0] != 0xaa {
		t.Fatal("Opaque result aliases the input")
	}
}

func TestVectorAppendAllocs(t *testing.T) {
	w := NewWriter(make([]byte, 0, 1024))
	body := make([]byte, 100)
	allocs := testing.AllocsPerRun(100, func() {
		w.Reset()
		w.Vector(func(w *Writer) {
			w.Uint32(1)
			w.Opaque(body)
			w.Varint(300)
		})
	})
	if allocs != 0 {
		t.Fatalf("Vector allocated %.1f times per run with enough capacity", allocs)
	}
}
