//go:build js && wasm

package main

import (
	"crypto/rand"
	"errors"
	"syscall/js"

	"conclave/e2ee/mls"
	"conclave/internal/jsfunc"
)

// registry holds the open groups by handle. It is owned by main and used
// only from the JavaScript event loop (one goroutine).
type registry struct {
	next   int
	groups map[int]*mls.Group
	cfg    mls.Config
}

func (r *registry) add(g *mls.Group) int {
	r.next++
	r.groups[r.next] = g
	return r.next
}

func (r *registry) get(h js.Value) (*mls.Group, error) {
	g, ok := r.groups[h.Int()]
	if !ok {
		return nil, errors.New("mls wasm: unknown group handle")
	}
	return g, nil
}

func bytesOf(v js.Value) []byte {
	if v.IsUndefined() || v.IsNull() {
		return nil
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

func jsBytes(b []byte) js.Value {
	if b == nil {
		return js.Null()
	}
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

func main() {
	r := &registry{groups: map[int]*mls.Group{}, cfg: mls.Config{ExternalProposals: mls.AllowExternalRemoveOnly}}
	api := map[string]any{
		// generateSignatureKey(suite) -> Uint8Array private key
		"generateSignatureKey": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			k, err := mls.GenerateSignatureKey(mls.CipherSuite(jsfunc.Arg(a, 0).Int()), rand.Reader)
			if err != nil {
				return nil, err
			}
			b, err := k.Bytes()
			return jsBytes(b), err
		}),
		// keyPackage(suite, identity Uint8Array, signatureKey) -> {keyPackage, bundle, ref}
		"keyPackage": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			cs := mls.CipherSuite(jsfunc.Arg(a, 0).Int())
			sk, err := mls.ParseSignatureKey(cs, bytesOf(jsfunc.Arg(a, 2)))
			if err != nil {
				return nil, err
			}
			b, err := mls.NewKeyPackage(mls.KeyPackageOptions{CipherSuite: cs, Credential: mls.BasicCredential(bytesOf(jsfunc.Arg(a, 1))), SignatureKey: sk}, r.cfg)
			if err != nil {
				return nil, err
			}
			saved, err := b.MarshalBinary()
			if err != nil {
				return nil, err
			}
			return map[string]any{"keyPackage": jsBytes(b.KeyPackage().Bytes()), "bundle": jsBytes(saved), "ref": jsBytes(b.KeyPackage().Ref())}, nil
		}),
		// createGroup(groupID, bundle, externalSenderKeys? [Uint8Array], externalSenderNames? [Uint8Array]) -> handle
		"createGroup": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			b, err := mls.UnmarshalKeyPackageBundle(bytesOf(jsfunc.Arg(a, 1)))
			if err != nil {
				return nil, err
			}
			var opts mls.GroupOptions
			if keys := jsfunc.Arg(a, 2); !keys.IsUndefined() && !keys.IsNull() {
				names := jsfunc.Arg(a, 3)
				var ks [][]byte
				var cs []mls.Credential
				for i := 0; i < keys.Length(); i++ {
					ks = append(ks, bytesOf(keys.Index(i)))
					cs = append(cs, mls.BasicCredential(bytesOf(names.Index(i))))
				}
				ext, err := mls.ExternalSendersExtension(ks, cs)
				if err != nil {
					return nil, err
				}
				opts.Extensions = append(opts.Extensions, ext)
			}
			g, err := mls.CreateGroup(bytesOf(jsfunc.Arg(a, 0)), b, opts, r.cfg)
			if err != nil {
				return nil, err
			}
			return r.add(g), nil
		}),
		// commit(handle, addKeyPackages [Uint8Array], removeLeaves [number]) -> {commit, welcome}
		"commit": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			var opts mls.CommitOptions
			if adds := jsfunc.Arg(a, 1); !adds.IsUndefined() && !adds.IsNull() {
				for i := 0; i < adds.Length(); i++ {
					kp, err := mls.ParseKeyPackage(bytesOf(adds.Index(i)))
					if err != nil {
						return nil, err
					}
					opts.Add = append(opts.Add, kp)
				}
			}
			if rm := jsfunc.Arg(a, 2); !rm.IsUndefined() && !rm.IsNull() {
				for i := 0; i < rm.Length(); i++ {
					opts.Remove = append(opts.Remove, uint32(rm.Index(i).Int()))
				}
			}
			res, err := g.Commit(opts)
			if err != nil {
				return nil, err
			}
			return map[string]any{"commit": jsBytes(res.Commit), "welcome": jsBytes(res.Welcome)}, nil
		}),
		"mergePendingCommit": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			_, err = g.MergePendingCommit()
			return g.Epoch(), err
		}),
		"discardPendingCommit": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			g.DiscardPendingCommit()
			return nil, nil
		}),
		// processMessage(handle, message) -> {type, senderType, sender, epoch, late, applicationData?, commit?}
		// (late: application data sealed in a past epoch kept for late messages)
		"processMessage": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			m, err := g.ProcessMessage(bytesOf(jsfunc.Arg(a, 1)))
			if err != nil {
				return nil, err
			}
			out := map[string]any{"type": m.Type.String(), "senderType": m.Sender.Type.String(), "sender": m.Sender.Index, "epoch": float64(m.Epoch), "late": m.Late}
			if m.ApplicationData != nil {
				out["applicationData"] = jsBytes(m.ApplicationData)
			}
			if m.Type == mls.ContentProposal {
				out["proposal"] = m.Proposal.String()
			}
			if c := m.Commit; c != nil {
				out["commit"] = map[string]any{"epoch": float64(c.NewEpoch), "added": uints(c.Added), "removed": uints(c.Removed), "selfRemoved": c.SelfRemoved}
			}
			return out, nil
		}),
		"seal": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			ct, err := g.Seal(bytesOf(jsfunc.Arg(a, 1)), bytesOf(jsfunc.Arg(a, 2)))
			return jsBytes(ct), err
		}),
		// joinFromWelcome(welcome, bundle, ratchetTree?) -> handle
		"joinFromWelcome": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			b, err := mls.UnmarshalKeyPackageBundle(bytesOf(jsfunc.Arg(a, 1)))
			if err != nil {
				return nil, err
			}
			g, err := mls.JoinFromWelcome(bytesOf(jsfunc.Arg(a, 0)), b, mls.JoinOptions{RatchetTree: bytesOf(jsfunc.Arg(a, 2))}, r.cfg)
			if err != nil {
				return nil, err
			}
			return r.add(g), nil
		}),
		// joinExternal(groupInfo, bundle, oldLeaf? number) -> {handle, commit}
		"joinExternal": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			b, err := mls.UnmarshalKeyPackageBundle(bytesOf(jsfunc.Arg(a, 1)))
			if err != nil {
				return nil, err
			}
			opts := mls.ExternalJoinOptions{}
			if old := jsfunc.Arg(a, 2); old.Type() == js.TypeNumber {
				opts.Resync, opts.OldLeaf = true, uint32(old.Int())
			}
			g, msg, err := mls.JoinExternal(bytesOf(jsfunc.Arg(a, 0)), b, opts, r.cfg)
			if err != nil {
				return nil, err
			}
			return map[string]any{"handle": r.add(g), "commit": jsBytes(msg)}, nil
		}),
		// groupInfo(handle) -> GroupInfo with ratchet tree and external_pub
		"groupInfo": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			gi, err := g.GroupInfo(mls.GroupInfoOptions{RatchetTree: true, ExternalPub: true})
			return jsBytes(gi), err
		}),
		// exportSecret(handle, label string, context Uint8Array, length) -> Uint8Array
		"exportSecret": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			out, err := g.Export(jsfunc.Arg(a, 1).String(), bytesOf(jsfunc.Arg(a, 2)), jsfunc.Arg(a, 3).Int())
			return jsBytes(out), err
		}),
		"epochAuthenticator": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			return jsBytes(g.EpochAuthenticator()), nil
		}),
		"epoch": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			return float64(g.Epoch()), nil
		}),
		// roster(handle) -> [{leaf, identity, signatureKey}]
		"roster": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			var out []any
			for _, m := range g.Members() {
				out = append(out, map[string]any{"leaf": m.Leaf, "identity": jsBytes(m.Credential.Identity), "signatureKey": jsBytes(m.SignatureKey)})
			}
			return out, nil
		}),
		"ownLeaf": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			return g.OwnLeaf(), nil
		}),
		"save": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := r.get(jsfunc.Arg(a, 0))
			if err != nil {
				return nil, err
			}
			b, err := g.MarshalBinary()
			return jsBytes(b), err
		}),
		"load": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			g, err := mls.LoadGroup(bytesOf(jsfunc.Arg(a, 0)), r.cfg)
			if err != nil {
				return nil, err
			}
			return r.add(g), nil
		}),
		"close": jsfunc.Wrap("mls wasm", func(a []js.Value) (any, error) {
			delete(r.groups, jsfunc.Arg(a, 0).Int())
			return nil, nil
		}),
	}
	js.Global().Set("conclaveMLS", js.ValueOf(api))
	select {} // serve calls from JavaScript until the page goes away
}

func uints(xs []uint32) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
