package sframe

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"conclave/internal/vectors"
)

// hexBytes decodes a hex string field of the vector file.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

// rfc9605Vectors is the layout of rfc9605.json (RFC 9605, Appendix C).
type rfc9605Vectors struct {
	Header []struct {
		KID     uint64   `json:"kid"`
		CTR     uint64   `json:"ctr"`
		Encoded hexBytes `json:"encoded"`
	} `json:"header"`
	AESCTRHMAC []struct {
		CipherSuite CipherSuite `json:"cipher_suite"`
		Key         hexBytes    `json:"key"`
		EncKey      hexBytes    `json:"enc_key"`
		AuthKey     hexBytes    `json:"auth_key"`
		Nonce       hexBytes    `json:"nonce"`
		AAD         hexBytes    `json:"aad"`
		PT          hexBytes    `json:"pt"`
		CT          hexBytes    `json:"ct"`
	} `json:"aes_ctr_hmac"`
	SFrame []sframeVector `json:"sframe"`
}

type sframeVector struct {
	CipherSuite     CipherSuite `json:"cipher_suite"`
	KID             uint64      `json:"kid"`
	CTR             uint64      `json:"ctr"`
	BaseKey         hexBytes    `json:"base_key"`
	SFrameKeyLabel  hexBytes    `json:"sframe_key_label"`
	SFrameSaltLabel hexBytes    `json:"sframe_salt_label"`
	SFrameSecret    hexBytes    `json:"sframe_secret"`
	SFrameKey       hexBytes    `json:"sframe_key"`
	SFrameSalt      hexBytes    `json:"sframe_salt"`
	Metadata        hexBytes    `json:"metadata"`
	Nonce           hexBytes    `json:"nonce"`
	AAD             hexBytes    `json:"aad"`
	PT              hexBytes    `json:"pt"`
	CT              hexBytes    `json:"ct"`
}

func loadVectors(t testing.TB) rfc9605Vectors {
	t.Helper()
	var v rfc9605Vectors
	vectors.Load(t, "sframe", "rfc9605.json", &v)
	if len(v.Header) == 0 || len(v.AESCTRHMAC) == 0 || len(v.SFrame) == 0 {
		t.Fatalf("rfc9605.json has an empty section: %d headers, %d aes_ctr_hmac, %d sframe",
			len(v.Header), len(v.AESCTRHMAC), len(v.SFrame))
	}
	return v
}

// TestVectors runs every case of RFC 9605, Appendix C and logs the counts.
func TestVectors(t *testing.T) {
	v := loadVectors(t)
	var passed [3]int
	t.Run("header", func(t *testing.T) {
		for _, c := range v.Header {
			t.Run(fmt.Sprintf("kid=%d/ctr=%d", c.KID, c.CTR), func(t *testing.T) {
				h := Header{KID: KeyID(c.KID), CTR: Counter(c.CTR)}
				if got := h.AppendTo(nil); !bytes.Equal(got, c.Encoded) {
					t.Fatalf("encode = %x, want %x", got, c.Encoded)
				}
				if h.MarshalSize() != len(c.Encoded) {
					t.Fatalf("MarshalSize = %d, want %d", h.MarshalSize(), len(c.Encoded))
				}
				got, n, err := ParseHeader(append(bytes.Clone(c.Encoded), 0xAA, 0xBB))
				if err != nil || got != h || n != len(c.Encoded) {
					t.Fatalf("ParseHeader = %+v, %d, %v; want %+v, %d", got, n, err, h, len(c.Encoded))
				}
				passed[0]++
			})
		}
	})
	t.Run("aes_ctr_hmac", func(t *testing.T) {
		for _, c := range v.AESCTRHMAC {
			t.Run(c.CipherSuite.String(), func(t *testing.T) {
				if !bytes.Equal(c.Key, append(bytes.Clone(c.EncKey), c.AuthKey...)) {
					t.Fatalf("vector key is not enc_key || auth_key")
				}
				aead, err := c.CipherSuite.newAEAD(c.Key)
				if err != nil {
					t.Fatal(err)
				}
				ct := aead.Seal(nil, c.Nonce, c.PT, c.AAD)
				if !bytes.Equal(ct, c.CT) {
					t.Fatalf("Seal = %x, want %x", ct, c.CT)
				}
				pt, err := aead.Open(nil, c.Nonce, c.CT, c.AAD)
				if err != nil || !bytes.Equal(pt, c.PT) {
					t.Fatalf("Open = %x, %v; want %x", pt, err, c.PT)
				}
				bad := bytes.Clone(c.CT)
				bad[len(bad)-1] ^= 1
				if _, err := aead.Open(nil, c.Nonce, bad, c.AAD); err == nil {
					t.Fatal("Open accepted a flipped tag")
				}
				passed[1]++
			})
		}
	})
	t.Run("sframe", func(t *testing.T) {
		for _, c := range v.SFrame {
			t.Run(c.CipherSuite.String(), func(t *testing.T) {
				checkSFrameVector(t, c)
				passed[2]++
			})
		}
	})
	t.Logf("RFC 9605 vectors passed: %d/%d header, %d/%d aes_ctr_hmac, %d/%d sframe",
		passed[0], len(v.Header), passed[1], len(v.AESCTRHMAC), passed[2], len(v.SFrame))
	if passed[0] != len(v.Header) || passed[1] != len(v.AESCTRHMAC) || passed[2] != len(v.SFrame) {
		t.Fatal("not every vector passed")
	}
}

func checkSFrameVector(t *testing.T, c sframeVector) {
	t.Helper()
	kid := KeyID(c.KID)
	key, salt, err := deriveKeySalt(c.CipherSuite, kid, c.BaseKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, c.SFrameKey) || !bytes.Equal(salt, c.SFrameSalt) {
		t.Fatalf("derive_key_salt = %x, %x; want %x, %x", key, salt, c.SFrameKey, c.SFrameSalt)
	}
	var suffix [10]byte
	suffix[0], suffix[1], suffix[2], suffix[3] = byte(c.KID>>56), byte(c.KID>>48), byte(c.KID>>40), byte(c.KID>>32)
	suffix[4], suffix[5], suffix[6], suffix[7] = byte(c.KID>>24), byte(c.KID>>16), byte(c.KID>>8), byte(c.KID)
	suffix[8], suffix[9] = byte(c.CipherSuite>>8), byte(c.CipherSuite)
	if string(c.SFrameKeyLabel) != labelKey+string(suffix[:]) || string(c.SFrameSaltLabel) != labelSalt+string(suffix[:]) {
		t.Fatalf("labels differ from the vector")
	}
	k, err := newKeyState(c.CipherSuite, kid, c.BaseKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.makeNonce(Counter(c.CTR)); !bytes.Equal(got, c.Nonce) {
		t.Fatalf("nonce = %x, want %x", got, c.Nonce)
	}
	hdr := Header{KID: kid, CTR: Counter(c.CTR)}.AppendTo(nil)
	if got := k.makeAAD(hdr, c.Metadata); !bytes.Equal(got, c.AAD) {
		t.Fatalf("aad = %x, want %x", got, c.AAD)
	}

	s, err := NewSender(c.CipherSuite, kid, c.BaseKey)
	if err != nil {
		t.Fatal(err)
	}
	s.next = Counter(c.CTR)
	ct, err := s.Encrypt(nil, c.Metadata, c.PT)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ct, c.CT) {
		t.Fatalf("Encrypt = %x, want %x", ct, c.CT)
	}
	r, err := NewReceiver(c.CipherSuite)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddKey(kid, c.BaseKey); err != nil {
		t.Fatal(err)
	}
	pt, err := r.Decrypt(nil, c.Metadata, c.CT)
	if err != nil || !bytes.Equal(pt, c.PT) {
		t.Fatalf("Decrypt = %x, %v; want %x", pt, err, c.PT)
	}
}
