//go:build !js

package main

import (
	"conclave/internal/wasmtest"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"conclave/e2ee/dsproto"
)

// TestWasmUnderNode builds the module for js/wasm and drives it from Node:
// a browser session is told to create the group, answers GroupCreated and
// Joined, reports the epoch (with a 16-byte SFrame base key and its leaf),
// the roster, seals chat and status as Application messages, saves and
// resumes, turns garbage into an error value rather than stopping, passes a
// refreshed access token on as a {type: "token"} event, and
// creates a group that forbids phones when the config says forbidPhones.
func TestWasmUnderNode(t *testing.T) {
	node, out, execJS := wasmtest.Build(t, "session")

	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := dsproto.Marshal(&dsproto.ServerHello{SignatureKey: pub, Credential: []byte("conclave-ds"), Role: dsproto.RoleCreate})
	if err != nil {
		t.Fatal(err)
	}
	const tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJQX0EifQ.c2lnbmF0dXJl"
	rt, err := dsproto.Marshal(&dsproto.RefreshToken{Token: []byte(tok)})
	if err != nil {
		t.Fatal(err)
	}
	run := exec.Command(node, filepath.Join("testdata", "smoke.js"), execJS, out, hex.EncodeToString(sh), hex.EncodeToString(rt))
	b, err := run.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, b)
	}
	var got struct {
		Hello, Created, Chat, Status, Resume []string
		Epoch                                *struct {
			Epoch   float64
			Code    string
			KeyLen  int
			Leaf    int
			CanSend bool
		}
		Roster []struct {
			Leaf        int
			Participant string
			DisplayName string
			Kind        string
			Self        bool
		}
		Deadline         string
		GarbageError     string
		TokenEvents      []string
		TokenSend        int
		TokenError       string
		BadKindIsError   bool
		BadHandleIsError bool

		PhonesForbidden            bool
		PhonesForbiddenBeforeGroup bool
		PhonesForbiddenCreated     bool
		BadForbidIsError           bool
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("node output %q: %v", b, err)
	}
	types := func(name string, msgs []string) []dsproto.Type {
		var ts []dsproto.Type
		for _, h := range msgs {
			raw, err := hex.DecodeString(h)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			m, err := dsproto.Unmarshal(raw)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ts = append(ts, m.Type())
		}
		return ts
	}
	for _, tc := range []struct {
		name string
		msgs []string
		want []dsproto.Type
	}{
		{"hello", got.Hello, []dsproto.Type{dsproto.TypeHello}},
		{"created", got.Created, []dsproto.Type{dsproto.TypeGroupCreated, dsproto.TypeJoined}},
		{"chat", got.Chat, []dsproto.Type{dsproto.TypeApplication}},
		{"status", got.Status, []dsproto.Type{dsproto.TypeApplication}},
		{"resume", got.Resume, []dsproto.Type{dsproto.TypeHello}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ts := types(tc.name, tc.msgs); !slices.Equal(ts, tc.want) {
				t.Fatalf("sent %v, want %v", ts, tc.want)
			}
		})
	}
	if e := got.Epoch; e == nil || e.KeyLen != 16 || e.Leaf != 0 || !e.CanSend || len(e.Code) != 24 {
		t.Fatalf("epoch event %+v", got.Epoch)
	}
	if len(got.Roster) != 1 || !got.Roster[0].Self || got.Roster[0].DisplayName != "Alice <b>" || got.Roster[0].Kind != "browser" || got.Roster[0].Participant != "P_A" {
		t.Fatalf("roster %+v", got.Roster)
	}
	if got.Deadline != "number" || got.GarbageError == "" || !got.BadKindIsError || !got.BadHandleIsError {
		t.Fatalf("deadline %q, garbage error %q, bad kind is error %v, bad handle is error %v", got.Deadline, got.GarbageError, got.BadKindIsError, got.BadHandleIsError)
	}
	t.Run("token", func(t *testing.T) {
		if len(got.TokenEvents) != 1 || got.TokenEvents[0] != tok || got.TokenSend != 0 || got.TokenError != "" {
			t.Fatalf("RefreshToken gave token events %q, %d messages, error %q; want one event with the token, nothing sent", got.TokenEvents, got.TokenSend, got.TokenError)
		}
	})
	t.Run("forbidPhones", func(t *testing.T) {
		if got.PhonesForbidden {
			t.Error("a group created without forbidPhones reports phones forbidden")
		}
		if got.PhonesForbiddenBeforeGroup {
			t.Error("phonesForbidden is true before the group exists")
		}
		if !got.PhonesForbiddenCreated {
			t.Error("a group created with forbidPhones: true does not report phones forbidden")
		}
		if !got.BadForbidIsError {
			t.Error("a non-boolean forbidPhones was accepted")
		}
	})
}
