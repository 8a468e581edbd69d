//go:build !js

package main

import (
	"conclave/internal/wasmtest"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestWasmUnderNode builds the module for js/wasm and drives it from Node:
// two members form a group through a commit and a Welcome, exchange an
// application message and agree on the epoch authenticator; garbage input
// comes back as an Error value instead of stopping the module.
func TestWasmUnderNode(t *testing.T) {
	node, out, execJS := wasmtest.Build(t, "mls")

	run := exec.Command(node, filepath.Join("testdata", "smoke.js"), execJS, out)
	b, err := run.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, b)
	}
	var got struct {
		Epoch      int    `json:"epoch"`
		Roster     int    `json:"roster"`
		Text       string `json:"text"`
		Same       bool   `json:"same"`
		BadIsError bool   `json:"badIsError"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("node output %q: %v", b, err)
	}
	if got.Epoch != 1 || got.Roster != 2 || got.Text != "hi" || !got.Same || !got.BadIsError {
		t.Fatalf("unexpected result %+v", got)
	}
}
