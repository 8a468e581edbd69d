package ciphersuite

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/binary"
)

// x448DeriveSecretKey implements DeriveKeyPair's secret-key step for
// DHKEM(X448, HKDF-SHA512) (RFC 9180, Section 7.1.3):
//
//	dkp_prk = LabeledExtract("", "dkp_prk", ikm)
//	sk = LabeledExpand(dkp_prk, "sk", "", Nsk)
//
// with suite_id = "KEM" || I2OSP(0x0021, 2) and Nsk = 56 (Section 4 defines
// LabeledExtract and LabeledExpand). circl's own DeriveKeyPair accepts only a
// 56-byte ikm, while MLS passes 64-byte secrets.
func x448DeriveSecretKey(ikm []byte) ([]byte, error) {
	const nsk = 56
	suiteID := []byte{'K', 'E', 'M', 0x00, 0x21}

	// LabeledExtract(salt="", label, ikm) = Extract("", "HPKE-v1" || suite_id || label || ikm)
	m := hmac.New(sha512.New, nil)
	m.Write([]byte("HPKE-v1"))
	m.Write(suiteID)
	m.Write([]byte("dkp_prk"))
	m.Write(ikm)
	prk := m.Sum(nil)

	// LabeledExpand(prk, label, info, L) =
	//     Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L)
	info := binary.BigEndian.AppendUint16(nil, nsk)
	info = append(info, "HPKE-v1"...)
	info = append(info, suiteID...)
	info = append(info, "sk"...)
	return hkdf.Expand(sha512.New, prk, string(info), nsk)
}
