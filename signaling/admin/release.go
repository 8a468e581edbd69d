package admin

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"conclave/internal/release"
)

// releaseCommand is `conclave admin release-keygen|release-sign|release-verify`:
// the release signing key the admin holds, and the SHA256SUMS signature of
// a release folder (package internal/release; minisign's formats, so
// `minisign -Vm SHA256SUMS -P KEY` verifies too). These work on files only:
// no data folder, no server, no audit log.
func releaseCommand(name string, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("admin "+name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	var out, keyFile, pubFile, pubKey, comment *string
	switch name {
	case "release-keygen":
		out = fset.String("out", "conclave-release", "write OUT.key (secret, mode 0600) and OUT.pub")
	case "release-sign":
		keyFile = fset.String("key", "", "the release secret key file (from release-keygen, or `minisign -G -W`)")
		comment = fset.String("comment", "", "trusted comment, signed with the sums (one line)")
	case "release-verify":
		pubFile = fset.String("pub", "", "the release public key file")
		pubKey = fset.String("pubkey", "", "the release public key, its base64 line alone")
	}
	if err := fset.Parse(args); err != nil {
		return err
	}
	switch name {
	case "release-keygen":
		if fset.NArg() != 0 {
			return errors.New("admin release-keygen: no arguments (use --out)")
		}
		sk, err := release.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(*out+".key", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("admin release-keygen: %w", err)
		}
		if _, err := f.Write(sk.Marshal()); err != nil {
			f.Close()
			return fmt.Errorf("admin release-keygen: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("admin release-keygen: %w", err)
		}
		if err := os.WriteFile(*out+".pub", sk.Public().Marshal(), 0o644); err != nil {
			return fmt.Errorf("admin release-keygen: %w", err)
		}
		fmt.Fprintf(stdout, "Release key %s: secret in %s.key (keep it offline), public in %s.pub:\n  %s\n",
			sk.ID, *out, *out, sk.Public().Base64())
		return nil
	case "release-sign":
		if fset.NArg() != 1 || *keyFile == "" {
			return errors.New("admin release-sign: want --key FILE and one release folder")
		}
		st, err := os.Stat(*keyFile)
		if err != nil {
			return fmt.Errorf("admin release-sign: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("admin release-sign: %s is readable by others (mode %v); run: chmod 600 %s", *keyFile, st.Mode().Perm(), *keyFile)
		}
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return fmt.Errorf("admin release-sign: %w", err)
		}
		sk, err := release.ParseSecretKey(b)
		if err != nil {
			return err
		}
		dir := fset.Arg(0)
		if err := release.SignDir(dir, sk, *comment); err != nil {
			return err
		}
		names, _ := release.Artifacts(dir)
		fmt.Fprintf(stdout, "Signed %s/%s (%d files) with key %s into %s\n", dir, release.SumsFile, len(names), sk.ID, release.SigFile)
		return nil
	case "release-verify":
		if fset.NArg() != 1 || (*pubFile == "") == (*pubKey == "") {
			return errors.New("admin release-verify: want one of --pub FILE or --pubkey BASE64, and one release folder")
		}
		b := []byte(*pubKey)
		if *pubFile != "" {
			var err error
			if b, err = os.ReadFile(*pubFile); err != nil {
				return fmt.Errorf("admin release-verify: %w", err)
			}
		}
		pk, err := release.ParsePublicKey(b)
		if err != nil {
			return err
		}
		comment, names, err := release.VerifyDir(fset.Arg(0), pk)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Signature by key %s verified; trusted comment: %s\n", pk.ID, comment)
		for _, n := range names {
			fmt.Fprintf(stdout, "  OK  %s\n", n)
		}
		return nil
	}
	return fmt.Errorf("admin: unknown command %q", name)
}
