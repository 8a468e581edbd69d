package sframe

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"testing"
)

var benchSizes = []int{100, 1000, 10000, 100000}

func sizeName(n int) string {
	switch {
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dKB", n/1000)
	default:
		return fmt.Sprintf("%dB", n)
	}
}

// BenchmarkEncrypt compares SFrame AES_128_GCM_SHA256_128 encryption with
// raw AES-128-GCM (crypto/cipher) on the same sizes.
func BenchmarkEncrypt(b *testing.B) {
	for _, size := range benchSizes {
		pt := make([]byte, size)
		md := make([]byte, 1)
		b.Run("sframe/"+sizeName(size), func(b *testing.B) {
			s, _ := newPair(b, AES128GCMSHA256_128, 5)
			out := make([]byte, 0, size+64)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Encrypt(out[:0], md, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("raw-aesgcm/"+sizeName(size), func(b *testing.B) {
			aead := rawGCM(b)
			nonce := make([]byte, 12)
			out := make([]byte, 0, size+64)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				aead.Seal(out[:0], nonce, pt, md)
			}
		})
	}
}

// BenchmarkDecrypt compares SFrame decryption (including the replay check)
// with raw AES-128-GCM Open. Each SFrame iteration decrypts a fresh frame so
// the replay window accepts it.
func BenchmarkDecrypt(b *testing.B) {
	for _, size := range benchSizes {
		pt := make([]byte, size)
		md := make([]byte, 1)
		b.Run("sframe/"+sizeName(size), func(b *testing.B) {
			const ring = 512 // fewer than the replay window
			s, _ := newPair(b, AES128GCMSHA256_128, 5)
			frames := make([][]byte, ring)
			out := make([]byte, 0, size+64)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			var r *Receiver
			for b.Loop() {
				if i%ring == 0 {
					b.StopTimer()
					var err error
					if r, err = NewReceiver(AES128GCMSHA256_128); err != nil {
						b.Fatal(err)
					}
					if err := r.AddKey(5, testBaseKey(AES128GCMSHA256_128)); err != nil {
						b.Fatal(err)
					}
					for j := range frames {
						frames[j], _ = s.Encrypt(frames[j][:0], md, pt)
					}
					b.StartTimer()
				}
				if _, err := r.Decrypt(out[:0], md, frames[i%ring]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("raw-aesgcm/"+sizeName(size), func(b *testing.B) {
			// The same ring of distinct frames as SFrame's: one ciphertext
			// read again and again would stay in the CPU's cache, which the
			// 100 KB frames of a ring of 512 (51 MB) do not.
			const ring = 512
			aead := rawGCM(b)
			nonce := make([]byte, 12)
			cts := make([][]byte, ring)
			for j := range cts {
				cts[j] = aead.Seal(nil, nonce, pt, md)
			}
			out := make([]byte, 0, size+64)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := aead.Open(out[:0], nonce, cts[i%ring], md); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func rawGCM(b *testing.B) cipher.AEAD {
	block, err := aes.NewCipher(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	return aead
}
