// Command conclave is a self-hostable video meeting platform whose server
// cannot see or hear the meeting. This file only dispatches subcommands; the
// work of each lives in its package.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"conclave/clients/bot"
	"conclave/clients/phone"
	"conclave/loadtest"
	"conclave/signaling/admin"
)

// command is one subcommand: it parses its own flags from args and runs until
// ctx is cancelled or its work is done.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the meeting server (web app, signaling, SFU, TURN)", serveCommand},
		{"bot", "join a meeting as a Go participant and report what it received", bot.Command},
		{"phone", "run the SIP gateway that lets desk phones dial into meetings", phone.Command},
		{"loadtest", "drive many bots against a server and report forwarding cost, latency and loss", loadtest.Command},
		{"admin", "administer the service: meetings, nodes, keys, audit log", admin.Command},
		{"version", "print the version and the web bundle's SHA-256", versionCommand},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "conclave:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errors.New("no subcommand")
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: conclave <subcommand> [flags]")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
}
