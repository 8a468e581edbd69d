package session

import (
	"bytes"
	"errors"
	"fmt"

	"conclave/e2ee/mls"
)

// Admission evidence (an addition to docs/e2ee-protocol.md, "Client
// behaviour"). A commit that adds members carries, in its authenticated_data
// (RFC 9420, Section 6: signed by the committer, readable by all), one entry
// per added member:
//
//	struct {
//	  opaque key_package<V>;  // the added KeyPackage (MLSMessage)
//	  opaque proof<V>;        // its admission proof; empty: admitted from
//	                          // the lobby by the committer
//	} AdmissionEvidence;
//	AdmissionEvidence entries<V>;  // after uint8 version = 1
//
// Every member checks every Add of a commit against it: the added leaf must
// be one of the entries' KeyPackages, and a non-empty proof must verify with
// the member's link secret (members without one trust the committer). So a
// member who joined after a JoinRequest went by can still check the commit,
// and no Add goes in without a proof or a member's signed decision.

const evidenceVersion = 1

// maxEvidence bounds the authenticated data a commit may carry.
const maxEvidence = 512 << 10

type evidence struct {
	kp    *mls.KeyPackage
	proof []byte
}

func encodeEvidence(adds []*admitted) []byte {
	var body []byte
	for _, a := range adds {
		body = appendOpaque(body, a.kp.Bytes())
		body = appendOpaque(body, a.proof)
	}
	return appendOpaque([]byte{evidenceVersion}, body)
}

func decodeEvidence(b []byte) ([]evidence, error) {
	if len(b) == 0 {
		return nil, nil
	}
	r := reader{b: b}
	v, err := r.uint8()
	if err != nil || v != evidenceVersion {
		return nil, fmt.Errorf("%w: admission evidence version", ErrProtocol)
	}
	body, err := r.opaque(maxEvidence)
	if err != nil || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: admission evidence framing", ErrProtocol)
	}
	br := reader{b: body}
	var out []evidence
	for len(br.b) > 0 {
		kpb, err := br.opaque(maxEvidence)
		if err != nil {
			return nil, fmt.Errorf("%w: admission evidence: %w", ErrProtocol, err)
		}
		proof, err := br.opaque(64)
		if err != nil {
			return nil, fmt.Errorf("%w: admission evidence: %w", ErrProtocol, err)
		}
		kp, err := mls.ParseKeyPackage(kpb)
		if err != nil {
			return nil, fmt.Errorf("%w: admission evidence: %w", ErrProtocol, err)
		}
		out = append(out, evidence{kp: kp, proof: proof})
	}
	return out, nil
}

var errNoEvidence = errors.New("no admission evidence for the added member")

// checkAdded verifies the evidence for a member added at leaf.
func (s *Session) checkAdded(ev []evidence, m mls.Member) error {
	for _, e := range ev {
		if !bytes.Equal(e.kp.SignatureKey(), m.SignatureKey) || !e.kp.Credential().Equal(m.Credential) {
			continue
		}
		if len(e.proof) == 0 || s.adm == nil {
			return nil // a member's signed decision, or a proof we cannot check
		}
		if s.adm.verifyProof(e.kp.Ref(), e.proof) {
			return nil
		}
		return fmt.Errorf("%w: the proof for leaf %d does not verify", ErrAdmission, m.Leaf)
	}
	return errNoEvidence
}
