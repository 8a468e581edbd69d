//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// main explains how to build the module when built for another platform,
// so that `go build ./...` succeeds everywhere.
func main() {
	fmt.Fprintln(os.Stderr, "e2ee/session/wasm is a browser module: build it with GOOS=js GOARCH=wasm")
}
