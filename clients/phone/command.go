package phone

import (
	"bytes"
	"conclave/clients/bot"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"conclave/clients/phone/dialin"
	sipauth "conclave/clients/phone/sip"
)

// ErrNoMeetingClient: the gateway members' meeting client could not be
// built.
var ErrNoMeetingClient = errors.New("phone: no meeting client available in this build")

// Files in the gateway's data directory.
const (
	keyFileName       = "phone.key"
	phonesFileName    = "phones.json"
	directoryFileName = "dialin.json"
)

// Command implements `conclave phone`:
//
//	conclave phone serve -config FILE          run the gateway
//	conclave phone user add|reset|remove NAME  manage desk phones (prints the password)
//	conclave phone code add LINK [-ttl D]      give a meeting (link without #secret) a dial-in code
//	conclave phone code revoke CODE
//
// Every subcommand takes -data DIR (default ./data/phone), which holds the
// gateway key (0600), the desk phones' list and the dial-in directory.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("phone: want serve, user or code")
	}
	switch args[0] {
	case "serve":
		return serveCommand(ctx, args[1:], stderr)
	case "user":
		return userCommand(args[1:], stdout)
	case "code":
		return codeCommand(args[1:], stdout)
	}
	return fmt.Errorf("phone: unknown subcommand %q: want serve, user or code", args[0])
}

type dataFiles struct {
	key       []byte
	phonesF   string
	directory string
}

func openData(dir string) (dataFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return dataFiles{}, fmt.Errorf("phone: data dir: %w", err)
	}
	key, err := dialin.LoadKey(filepath.Join(dir, keyFileName))
	if err != nil {
		return dataFiles{}, err
	}
	return dataFiles{key: key, phonesF: filepath.Join(dir, phonesFileName), directory: filepath.Join(dir, directoryFileName)}, nil
}

func userCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("phone user", flag.ContinueOnError)
	data := fs.String("data", "data/phone", "data directory")
	realm := fs.String("realm", "conclave", "digest realm (as in the gateway's config)")
	if len(args) < 1 {
		return errors.New("phone user: want add, reset or remove")
	}
	verb := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("phone user: want one user name")
	}
	name := fs.Arg(0)
	d, err := openData(*data)
	if err != nil {
		return err
	}
	phones, err := sipauth.LoadPhones(d.phonesF)
	if err != nil {
		return err
	}
	switch verb {
	case "add", "reset":
		ph, err := phones.Add(name)
		if err != nil {
			return err
		}
		// Printed once for the phone's configuration; stored nowhere.
		fmt.Fprintf(stdout, "user %s\nrealm %s\npassword %s\n", name, *realm,
			sipauth.DeriveKeys(d.key).Password(name, ph.Generation))
		return nil
	case "remove":
		return phones.Remove(name)
	}
	return fmt.Errorf("phone user: unknown verb %q", verb)
}

func codeCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("phone code", flag.ContinueOnError)
	data := fs.String("data", "data/phone", "data directory")
	ttl := fs.Duration("ttl", 30*24*time.Hour, "how long the code stays valid")
	if len(args) < 1 {
		return errors.New("phone code: want add or revoke")
	}
	verb := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("phone code: want one argument")
	}
	d, err := openData(*data)
	if err != nil {
		return err
	}
	dir, err := dialin.NewDirectory(d.key, d.directory)
	if err != nil {
		return err
	}
	switch verb {
	case "add":
		room, err := dialin.ParseLink(fs.Arg(0))
		if err != nil {
			return err
		}
		code, err := dir.Assign(room, *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", code)
		return nil
	case "revoke":
		return dir.Revoke(fs.Arg(0))
	}
	return fmt.Errorf("phone code: unknown verb %q", verb)
}

// LoadConfig reads a YAML config strictly (unknown keys fail).
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("phone: config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	return c, nil
}

func serveCommand(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("phone serve", flag.ContinueOnError)
	data := fs.String("data", "data/phone", "data directory")
	cfgPath := fs.String("config", "", "YAML configuration file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return errors.New("phone serve: -config is required")
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	d, err := openData(*data)
	if err != nil {
		return err
	}
	phones, err := sipauth.LoadPhones(d.phonesF)
	if err != nil {
		return err
	}
	dir, err := dialin.NewDirectory(d.key, d.directory)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil)).With("component", "phone")
	meetings, err := newMeetingClient(log.With("part", "member"))
	if err != nil {
		return err
	}
	g, err := New(Options{Config: cfg, Logger: log, Meetings: meetings, Directory: dir, Phones: phones, GatewayKey: d.key})
	if err != nil {
		return err
	}
	return g.Serve(ctx)
}

// newMeetingClient returns the gateway members' meeting client:
// MemberMeetings over BotDialer (clients/bot members of kind phone gateway),
// sharing one pion API.
func newMeetingClient(log *slog.Logger) (Meetings, error) {
	api, err := bot.NewAPI()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoMeetingClient, err)
	}
	return MemberMeetings{Dial: BotDialer{API: api, Logger: log}.Dial}, nil
}
