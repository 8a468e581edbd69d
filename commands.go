package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"conclave/internal/version"
	"conclave/signaling"
	"conclave/web"
)

func webApp() signaling.App {
	app := signaling.App{Version: version.String(), NewRTC: newMediaPlane}
	if h, err := web.Hash(); err == nil {
		app.Web, app.BundleHash = web.FS(), h
	}
	return app
}

func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	app := webApp()
	if app.Web == nil {
		fmt.Fprintln(stderr, "conclave: warning: this binary has no web app (build with `make build`); the API and media still work")
	}
	return signaling.Command(ctx, app, args, stdout, stderr)
}

func versionCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("version", flag.ContinueOnError)
	fset.SetOutput(stderr)
	asJSON := fset.Bool("json", false, "print JSON")
	if err := fset.Parse(args); err != nil {
		return err
	}
	h, err := web.Hash()
	if errors.Is(err, web.ErrNotBuilt) {
		h = "(no web bundle in this build)"
	} else if err != nil {
		return err
	}
	b := version.Read()
	if *asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			Version string `json:"version"`
			Bundle  string `json:"bundle_sha256"`
			version.Build
		}{version.String(), h, b})
	}
	commit := b.Commit
	if commit == "" {
		commit = "(unknown: built without -X conclave/internal/version.commit or VCS stamping)"
	}
	fmt.Fprintf(stdout, "conclave %s\ncommit: %s\nweb bundle SHA-256: %s\ngo: %s\n", version.String(), commit, h, b.GoVersion)
	fmt.Fprintln(stdout, "build settings:")
	for _, s := range b.Settings {
		fmt.Fprintf(stdout, "  %s\n", s)
	}
	fmt.Fprintln(stdout, "modules:")
	for _, m := range b.Modules {
		line := m.Path + " " + m.Version
		if m.Replace != "" {
			line += " => " + m.Replace
		}
		if m.Sum != "" {
			line += " " + m.Sum
		}
		fmt.Fprintf(stdout, "  %s\n", line)
	}
	return nil
}
