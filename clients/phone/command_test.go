package phone

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"conclave/clients/phone/dialin"
	sipauth "conclave/clients/phone/sip"
)

func TestCommandUsersAndCodes(t *testing.T) {
	data := filepath.Join(t.TempDir(), "phone")
	var out bytes.Buffer
	ctx := context.Background()
	if err := Command(ctx, []string{"user", "add", "-data", data, "desk7"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "password ") {
		t.Fatalf("output %q", out.String())
	}
	pass := strings.TrimSpace(out.String()[strings.Index(out.String(), "password ")+9:])
	key, err := dialin.LoadKey(filepath.Join(data, keyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(data, keyFileName)); st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", st.Mode().Perm())
	}
	if got := sipauth.DeriveKeys(key).Password("desk7", 1); got != pass {
		t.Fatal("printed password is not the derived one")
	}
	list, _ := os.ReadFile(filepath.Join(data, phonesFileName))
	if strings.Contains(string(list), pass) {
		t.Fatal("password stored")
	}

	out.Reset()
	if err := Command(ctx, []string{"code", "add", "-data", data, "https://meet.example/m/ROOM#secret"}, &out, &out); !errors.Is(err, dialin.ErrSecret) {
		t.Fatalf("link with secret: %v", err)
	}
	if err := Command(ctx, []string{"code", "add", "-data", data, "https://meet.example/m/ROOM"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	code := strings.TrimSpace(out.String())
	dir, _ := dialin.NewDirectory(key, filepath.Join(data, directoryFileName))
	if r, err := dir.Lookup(code); err != nil || r.ID != "ROOM" {
		t.Fatalf("lookup %q: %v %v", code, r, err)
	}
	if err := Command(ctx, []string{"code", "revoke", "-data", data, code}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if err := Command(ctx, []string{"bogus"}, &out, &out); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
}

func TestLoadConfigStrict(t *testing.T) {
	p := filepath.Join(t.TempDir(), "phone.yaml")
	_ = os.WriteFile(p, []byte("name: hq\nudp: 127.0.0.1:5060\nmedia_ip: 127.0.0.1\ntrunks: [10.0.0.0/8]\nsrtp: required\n"), 0o600)
	c, err := LoadConfig(p)
	if err != nil || c.Name != "hq" || c.SRTP != SRTPRequired || len(c.Trunks) != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	_ = os.WriteFile(p, []byte("name: hq\nudpp: 1\n"), 0o600)
	if _, err := LoadConfig(p); !errors.Is(err, ErrConfig) {
		t.Fatalf("typo accepted: %v", err)
	}
}
