//go:build js && wasm

// Package jsfunc exposes Go functions to JavaScript for the WASM modules
// (e2ee/mls/wasm, e2ee/session/wasm) without letting a Go error or panic
// escape as a thrown exception: a panic inside a js.Func stops the whole
// module, so both become Error values the caller checks with instanceof.
package jsfunc

import (
	"fmt"
	"syscall/js"
)

// Wrap turns f into a JavaScript function that returns f's result, or an
// Error with f's error message, or an Error "<module>: internal error: ..."
// if f panics.
func Wrap(module string, f func(args []js.Value) (any, error)) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) (result any) {
		defer func() {
			if p := recover(); p != nil {
				result = js.Global().Get("Error").New(fmt.Sprint(module, ": internal error: ", p))
			}
		}()
		out, err := f(args)
		if err != nil {
			return js.Global().Get("Error").New(err.Error())
		}
		return out
	})
}

// Arg is args[i], or undefined when the caller passed fewer arguments.
func Arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}
