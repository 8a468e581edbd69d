package mls

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"

	"conclave/e2ee/mls/internal/tls"
	"conclave/internal/vectors"
)

// hexBytes decodes a hex string field of a vector file.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*h = nil
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("hex field is not a string: %s", b)
	}
	out, err := hex.DecodeString(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	*h = out
	return nil
}

// Adapters for the bare proposal bodies that messages.json serializes.
type uint32Body struct{ v uint32 }

func (u *uint32Body) marshal(w *tls.Writer) { w.Uint32(u.v) }
func (u *uint32Body) unmarshal(r *tls.Reader) (err error) {
	u.v, err = r.Uint32()
	return err
}

type reInitBody struct{ proposal }

func (b *reInitBody) marshal(w *tls.Writer) {
	var tmp tls.Writer
	b.proposal.marshal(&tmp)
	out, _ := tmp.Bytes()
	w.Raw(out[2:]) // drop proposal_type
}

func (b *reInitBody) unmarshal(r *tls.Reader) error {
	// Re-prefix the proposal type and decode as a Proposal.
	rest, err := r.Raw(r.Remaining())
	if err != nil {
		return err
	}
	buf := append([]byte{0, byte(ProposalReInit)}, rest...)
	return b.proposal.unmarshal(tls.NewReader(buf))
}

type roundTripper interface {
	marshaler
	unmarshaler
}

func checkRoundTrip(t *testing.T, name string, data []byte, v roundTripper) {
	t.Helper()
	if err := decode(data, v); err != nil {
		t.Fatalf("%s: decode: %v", name, err)
	}
	got, err := encode(v)
	if err != nil {
		t.Fatalf("%s: encode: %v", name, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("%s: re-encoding differs\n got %x\nwant %x", name, got, data)
	}
}

// TestMessagesVectors decodes and re-encodes every object of messages.json
// byte for byte (vectors FORMAT.md, "Messages").
func TestMessagesVectors(t *testing.T) {
	var vs []map[string]hexBytes
	vectors.Load(t, "mls", "messages.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	kinds := map[string]func() roundTripper{
		"mls_welcome":                       func() roundTripper { return new(mlsMessage) },
		"mls_group_info":                    func() roundTripper { return new(mlsMessage) },
		"mls_key_package":                   func() roundTripper { return new(mlsMessage) },
		"ratchet_tree":                      func() roundTripper { return new(ratchetTreeNodes) },
		"group_secrets":                     func() roundTripper { return new(groupSecrets) },
		"add_proposal":                      func() roundTripper { return new(keyPackage) },
		"update_proposal":                   func() roundTripper { return new(leafNode) },
		"remove_proposal":                   func() roundTripper { return new(uint32Body) },
		"pre_shared_key_proposal":           func() roundTripper { return new(preSharedKeyID) },
		"re_init_proposal":                  func() roundTripper { return new(reInitBody) },
		"external_init_proposal":            func() roundTripper { return new(opaqueBytes) },
		"group_context_extensions_proposal": func() roundTripper { return new(extensionList) },
		"commit":                            func() roundTripper { return new(commit) },
		"public_message_application":        func() roundTripper { return new(mlsMessage) },
		"public_message_proposal":           func() roundTripper { return new(mlsMessage) },
		"public_message_commit":             func() roundTripper { return new(mlsMessage) },
		"private_message":                   func() roundTripper { return new(mlsMessage) },
	}
	wantWire := map[string]WireFormat{
		"mls_welcome": WireFormatWelcome, "mls_group_info": WireFormatGroupInfo,
		"mls_key_package": WireFormatKeyPackage, "public_message_application": WireFormatPublicMessage,
		"public_message_proposal": WireFormatPublicMessage, "public_message_commit": WireFormatPublicMessage,
		"private_message": WireFormatPrivateMessage,
	}
	for i, v := range vs {
		t.Run(fmt.Sprintf("case%03d", i), func(t *testing.T) {
			if len(v) != len(kinds) {
				t.Fatalf("vector has %d fields, want %d", len(v), len(kinds))
			}
			for name, mk := range kinds {
				data, ok := v[name]
				if !ok {
					t.Fatalf("field %s missing", name)
				}
				obj := mk()
				checkRoundTrip(t, name, data, obj)
				if wf, ok := wantWire[name]; ok {
					if got := obj.(*mlsMessage).wireFormat; got != wf {
						t.Fatalf("%s: wire format %v, want %v", name, got, wf)
					}
				}
			}
		})
	}
}

// TestDeserializationVectors checks the variable-length header vectors
// (vectors FORMAT.md, "Vector Deserialization") through opaque<V> decoding.
func TestDeserializationVectors(t *testing.T) {
	var vs []struct {
		Header hexBytes `json:"vlbytes_header"`
		Length int      `json:"length"`
	}
	vectors.Load(t, "mls", "deserialization.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for i, v := range vs {
		t.Run(fmt.Sprintf("case%02d_len%d", i, v.Length), func(t *testing.T) {
			r := tls.NewReader(v.Header)
			n, err := r.Varint()
			if err != nil || !r.Empty() {
				t.Fatalf("header %x: %v", []byte(v.Header), err)
			}
			if n != uint64(v.Length) {
				t.Fatalf("header %x decodes to %d, want %d", []byte(v.Header), n, v.Length)
			}
			if v.Length > 1<<16 {
				return // the header is checked; a full body would need a GiB
			}
			data := append(bytes.Clone(v.Header), make([]byte, v.Length)...)
			var o opaqueBytes
			checkRoundTrip(t, "opaque", data, &o)
			if len(o) != v.Length {
				t.Fatalf("decoded %d bytes, want %d", len(o), v.Length)
			}
		})
	}
}
