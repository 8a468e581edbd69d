package mls

import (
	"crypto/subtle"
	"fmt"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/internal/tls"
	"conclave/e2ee/mls/keyschedule"
)

// framedContentTBS returns FramedContentTBS (RFC 9420, Section 6.1): the
// encoded GroupContext is appended for member and new_member_commit senders.
func framedContentTBS(wf WireFormat, c *framedContent, groupCtx []byte) []byte {
	var w tls.Writer
	w.Uint16(uint16(ProtocolVersionMLS10))
	w.Uint16(uint16(wf))
	c.marshal(&w)
	if c.sender.typ == SenderMember || c.sender.typ == SenderNewMemberCommit {
		w.Raw(groupCtx)
	}
	b, _ := w.Bytes()
	return b
}

// signContent signs c with SignWithLabel(., "FramedContentTBS", .)
// (RFC 9420, Section 6.1).
func signContent(s *ciphersuite.Suite, priv *ciphersuite.SignaturePrivateKey, wf WireFormat, c *framedContent, groupCtx []byte) ([]byte, error) {
	sig, err := s.SignWithLabel(priv, "FramedContentTBS", framedContentTBS(wf, c, groupCtx))
	if err != nil {
		return nil, fmt.Errorf("mls: sign content: %w", err)
	}
	return sig, nil
}

// verifyContent checks the FramedContent signature (RFC 9420, Section 6.1).
func verifyContent(s *ciphersuite.Suite, pub []byte, ac *authenticatedContent, groupCtx []byte) error {
	if err := s.VerifyWithLabel(pub, "FramedContentTBS", framedContentTBS(ac.wireFormat, &ac.content, groupCtx), ac.auth.signature); err != nil {
		return fmt.Errorf("%w: content signature (RFC 9420, Section 6.1)", ErrAuthentication)
	}
	return nil
}

// membershipTag computes MAC(membership_key, AuthenticatedContentTBM)
// (RFC 9420, Section 6.2).
func membershipTag(s *ciphersuite.Suite, membershipKey []byte, ac *authenticatedContent, groupCtx []byte) []byte {
	var w tls.Writer
	w.Raw(framedContentTBS(ac.wireFormat, &ac.content, groupCtx))
	ac.auth.marshal(&w, ac.content.contentType)
	b, _ := w.Bytes()
	return s.MAC(membershipKey, b)
}

// confirmationTag computes MAC(confirmation_key, confirmed_transcript_hash)
// (RFC 9420, Section 6.1).
func confirmationTag(s *ciphersuite.Suite, confirmationKey, confirmedTranscriptHash []byte) []byte {
	return s.MAC(confirmationKey, confirmedTranscriptHash)
}

func verifyConfirmationTag(s *ciphersuite.Suite, confirmationKey, confirmedTranscriptHash, tag []byte) error {
	if subtle.ConstantTimeCompare(confirmationTag(s, confirmationKey, confirmedTranscriptHash), tag) != 1 {
		return fmt.Errorf("%w: confirmation tag (RFC 9420, Section 6.1)", ErrAuthentication)
	}
	return nil
}

// confirmedTranscriptHash and interimTranscriptHash implement RFC 9420,
// Section 8.2.
func confirmedTranscriptHash(s *ciphersuite.Suite, interimBefore []byte, ac *authenticatedContent) []byte {
	var w tls.Writer
	w.Uint16(uint16(ac.wireFormat))
	ac.content.marshal(&w)
	w.Opaque(ac.auth.signature)
	b, _ := w.Bytes()
	return keyschedule.ConfirmedTranscriptHash(s, interimBefore, b)
}

// senderData is SenderData (RFC 9420, Section 6.3.2).
type senderData struct {
	leafIndex  uint32
	generation uint32
	reuseGuard [4]byte
}

func (d *senderData) marshal(w *tls.Writer) {
	w.Uint32(d.leafIndex)
	w.Uint32(d.generation)
	w.Raw(d.reuseGuard[:])
}

func (d *senderData) unmarshal(r *tls.Reader) error {
	var err error
	if d.leafIndex, err = r.Uint32(); err != nil {
		return err
	}
	if d.generation, err = r.Uint32(); err != nil {
		return err
	}
	g, err := r.Raw(4)
	copy(d.reuseGuard[:], g)
	return err
}

// senderDataKeyNonce derives the sender data key and nonce from the first
// KDF.Nh bytes of the content ciphertext (RFC 9420, Section 6.3.2).
func senderDataKeyNonce(s *ciphersuite.Suite, senderDataSecret, ciphertext []byte) (key, nonce []byte, err error) {
	sample := ciphertext
	if len(sample) > s.Nh() {
		sample = sample[:s.Nh()]
	}
	if key, err = s.ExpandWithLabel(senderDataSecret, "key", sample, s.AEADKeySize()); err != nil {
		return nil, nil, err
	}
	if nonce, err = s.ExpandWithLabel(senderDataSecret, "nonce", sample, s.AEADNonceSize()); err != nil {
		return nil, nil, err
	}
	return key, nonce, nil
}

func senderDataAAD(groupID []byte, epoch uint64, ct ContentType) []byte {
	var w tls.Writer
	w.Opaque(groupID)
	w.Uint64(epoch)
	w.Uint8(uint8(ct))
	b, _ := w.Bytes()
	return b
}

func privateContentAAD(groupID []byte, epoch uint64, ct ContentType, authenticatedData []byte) []byte {
	var w tls.Writer
	w.Opaque(groupID)
	w.Uint64(epoch)
	w.Uint8(uint8(ct))
	w.Opaque(authenticatedData)
	b, _ := w.Bytes()
	return b
}

// applyReuseGuard XORs the reuse guard into the first four bytes of the
// nonce (RFC 9420, Section 6.3.1).
func applyReuseGuard(nonce []byte, guard [4]byte) []byte {
	out := make([]byte, len(nonce))
	copy(out, nonce)
	for i := range guard {
		out[i] ^= guard[i]
	}
	return out
}

// messageKeys supplies content keys from the secret tree (RFC 9420,
// Section 9). next returns the key and nonce of the sender's next unused
// generation. consume calls use with those of a received generation and
// deletes them only if use succeeds, so that a message that fails any check
// inside use leaves the ratchet as it was.
type messageKeys interface {
	next(leaf uint32, handshake bool) (key, nonce []byte, generation uint32, err error)
	consume(leaf uint32, handshake bool, generation uint32, use func(key, nonce []byte) error) error
}

// encryptContent builds a PrivateMessage from ac (RFC 9420, Section 6.3).
// padding is the number of zero bytes appended to the content.
func encryptContent(s *ciphersuite.Suite, keys messageKeys, senderDataSecret []byte, ac *authenticatedContent, padding int, guard [4]byte) (*privateMessage, error) {
	c := &ac.content
	if c.sender.typ != SenderMember {
		return nil, fmt.Errorf("mls: only members send PrivateMessages (RFC 9420, Section 6.3.2)")
	}
	key, nonce, gen, err := keys.next(c.sender.index, c.contentType != ContentApplication)
	if err != nil {
		return nil, err
	}
	var w tls.Writer
	c.marshalBody(&w)
	ac.auth.marshal(&w, c.contentType)
	w.Raw(make([]byte, padding))
	pt, err := w.Bytes()
	if err != nil {
		return nil, fmt.Errorf("mls: encode content: %w", err)
	}
	aad := privateContentAAD(c.groupID, c.epoch, c.contentType, c.authenticatedData)
	ct, err := s.Seal(key, applyReuseGuard(nonce, guard), aad, pt)
	if err != nil {
		return nil, fmt.Errorf("mls: encrypt content: %w", err)
	}
	sd := senderData{leafIndex: c.sender.index, generation: gen, reuseGuard: guard}
	sdKey, sdNonce, err := senderDataKeyNonce(s, senderDataSecret, ct)
	if err != nil {
		return nil, err
	}
	esd, err := s.Seal(sdKey, sdNonce, senderDataAAD(c.groupID, c.epoch, c.contentType), mustEncode(&sd))
	if err != nil {
		return nil, fmt.Errorf("mls: encrypt sender data: %w", err)
	}
	return &privateMessage{
		groupID: c.groupID, epoch: c.epoch, contentType: c.contentType,
		authenticatedData: c.authenticatedData, encryptedSenderData: esd, ciphertext: ct,
	}, nil
}

// decryptSenderData recovers SenderData (RFC 9420, Section 6.3.2).
func decryptSenderData(s *ciphersuite.Suite, senderDataSecret []byte, m *privateMessage) (*senderData, error) {
	sdKey, sdNonce, err := senderDataKeyNonce(s, senderDataSecret, m.ciphertext)
	if err != nil {
		return nil, err
	}
	pt, err := s.Open(sdKey, sdNonce, senderDataAAD(m.groupID, m.epoch, m.contentType), m.encryptedSenderData)
	if err != nil {
		return nil, fmt.Errorf("%w: sender data (RFC 9420, Section 6.3.2)", ErrAuthentication)
	}
	var sd senderData
	if err := decode(pt, &sd); err != nil {
		return nil, err
	}
	return &sd, nil
}

// decryptContent opens a PrivateMessage's content with the key of the
// sender's generation and parses PrivateMessageContent, checking that the
// padding is all zeros (RFC 9420, Section 6.3.1). The FramedContent is
// rebuilt from the PrivateMessage header and handed to then, which checks
// the signature and everything else; the key is consumed only if then
// succeeds.
func decryptContent(s *ciphersuite.Suite, keys messageKeys, m *privateMessage, sd *senderData, then func(*authenticatedContent) error) error {
	return keys.consume(sd.leafIndex, m.contentType != ContentApplication, sd.generation, func(key, nonce []byte) error {
		aad := privateContentAAD(m.groupID, m.epoch, m.contentType, m.authenticatedData)
		pt, err := s.Open(key, applyReuseGuard(nonce, sd.reuseGuard), aad, m.ciphertext)
		if err != nil {
			return fmt.Errorf("%w: content (RFC 9420, Section 6.3.1)", ErrAuthentication)
		}
		ac := &authenticatedContent{
			wireFormat: WireFormatPrivateMessage,
			content: framedContent{
				groupID: m.groupID, epoch: m.epoch,
				sender:            sender{typ: SenderMember, index: sd.leafIndex},
				authenticatedData: m.authenticatedData, contentType: m.contentType,
			},
		}
		r := tls.NewReader(pt)
		if err := ac.content.unmarshalBody(r); err != nil {
			return fmt.Errorf("%w: private message content: %w", ErrMalformed, err)
		}
		if err := ac.auth.unmarshal(r, m.contentType); err != nil {
			return fmt.Errorf("%w: private message auth: %w", ErrMalformed, err)
		}
		rest, _ := r.Raw(r.Remaining())
		var acc byte
		for _, b := range rest {
			acc |= b
		}
		if acc != 0 {
			return ruleError(ErrMalformed, "6.3.1", "non-zero padding")
		}
		return then(ac)
	})
}
