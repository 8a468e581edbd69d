//go:build !js

package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestWasmUnderNode builds the module for js/wasm and drives it from Node:
// two members form a group through a commit and a Welcome, exchange an
// application message and agree on the epoch authenticator; garbage input
// comes back as an Error value instead of stopping the module.
func TestWasmUnderNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the WASM test (Debian: apt-get install nodejs)")
	}
	out := filepath.Join(t.TempDir(), "mls.wasm")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(wasm)
	zw.Close()
	t.Logf("mls.wasm: %d bytes, %d gzipped", len(wasm), gz.Len())

	execJS := filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js")
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
