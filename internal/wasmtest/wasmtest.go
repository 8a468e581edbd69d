// Package wasmtest builds a Go WASM entry (GOOS=js GOARCH=wasm) for a test
// that drives it from Node, as a browser would. Tests only.
package wasmtest

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Build compiles the package in the current directory to name.wasm in a
// temporary folder, logs its raw and gzipped sizes, and returns the paths
// of node, the module and Go's wasm_exec.js. A missing node fails the test.
func Build(t *testing.T, name string) (node, module, wasmExec string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the WASM test (Debian: apt-get install nodejs)")
	}
	module = filepath.Join(t.TempDir(), name+".wasm")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", module, ".")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	wasm, err := os.ReadFile(module)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(wasm)
	zw.Close()
	t.Logf("%s.wasm: %d bytes, %d gzipped", name, len(wasm), gz.Len())
	return node, module, filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js")
}
