package keyschedule

import (
	"fmt"

	"conclave/e2ee/mls/ciphersuite"
	"conclave/e2ee/mls/internal/tls"
)

// ConfirmedTranscriptHash computes (RFC 9420, Section 8.2):
//
//	confirmed_transcript_hash_[epoch] =
//	    Hash(interim_transcript_hash_[epoch - 1] || ConfirmedTranscriptHashInput_[epoch])
//
// confirmedInput is the serialized ConfirmedTranscriptHashInput
// {WireFormat wire_format; FramedContent content; opaque signature<V>} of the
// Commit, which is the AuthenticatedContent without its confirmation_tag.
func ConfirmedTranscriptHash(suite *ciphersuite.Suite, interimBefore, confirmedInput []byte) []byte {
	h := suite.NewHash()
	h.Write(interimBefore)
	h.Write(confirmedInput)
	return h.Sum(nil)
}

// InterimTranscriptHash computes (RFC 9420, Section 8.2):
//
//	interim_transcript_hash_[epoch] =
//	    Hash(confirmed_transcript_hash_[epoch] || InterimTranscriptHashInput_[epoch])
//
// where InterimTranscriptHashInput is {MAC confirmation_tag}, the tag encoded
// as opaque<V>. A new member computes it from the GroupInfo's
// confirmation_tag; the creator of a group from the tag over the empty
// confirmed transcript hash (Section 11).
func InterimTranscriptHash(suite *ciphersuite.Suite, confirmed, confirmationTag []byte) ([]byte, error) {
	w := tls.NewWriter(make([]byte, 0, len(confirmed)+len(confirmationTag)+4))
	w.Raw(confirmed)
	w.Opaque(confirmationTag)
	b, err := w.Bytes()
	if err != nil {
		return nil, fmt.Errorf("keyschedule: encode InterimTranscriptHashInput: %w", err)
	}
	return suite.Hash(b), nil
}
