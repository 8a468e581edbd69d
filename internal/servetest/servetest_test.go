package servetest

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"conclave/signaling"
)

// sh returns a command factory running script under /bin/sh.
func sh(script string) *exec.Cmd { return exec.Command("/bin/sh", "-c", script) }

func TestStartWaitsForURLs(t *testing.T) {
	cases := []struct {
		name      string
		script    string
		opts      Options
		url, adm  string
		stderrHas string
	}{
		{
			name:   "public URL only",
			script: `echo "Conclave is running at http://127.0.0.1:4001"; exec sleep 60`,
			url:    "http://127.0.0.1:4001",
		},
		{
			name: "waits for the admin URL printed later",
			script: `echo "Conclave is running at https://meet.example.org:4002"; sleep 0.2; ` +
				`echo "Admin API, metrics and health at http://127.0.0.1:4003"; echo warning >&2; exec sleep 60`,
			opts: Options{Admin: true},
			url:  "https://meet.example.org:4002", adm: "http://127.0.0.1:4003", stderrHas: "warning",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := Start(t, sh(c.script), c.opts)
			if n.URL != c.url || n.AdminURL != c.adm {
				t.Fatalf("URLs %q, %q; want %q, %q", n.URL, n.AdminURL, c.url, c.adm)
			}
			if c.stderrHas != "" {
				deadline := time.Now().Add(5 * time.Second)
				for n.Stderr.String() != c.stderrHas+"\n" {
					if time.Now().After(deadline) {
						t.Fatalf("stderr %q, want %q", n.Stderr.String(), c.stderrHas)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			select {
			case <-n.Exited():
				t.Fatal("the node exited while serving")
			default:
			}
		})
	}
}

// start reports a node that exits before serving, with what it said.
func TestStartReportsEarlyExit(t *testing.T) {
	n, err := start(t, exec.Command("/bin/sh", "-c", `echo "config: bad flag" >&2; exit 1`), Options{Timeout: 10 * time.Second})
	if err == nil {
		t.Fatal("no error for a node that exited")
	}
	if got := n.Stderr.String(); got != "config: bad flag\n" {
		t.Fatalf("stderr %q", got)
	}
	if n.WaitErr() == nil {
		t.Fatal("exit status 1 not reported")
	}
}

func TestNodeCommandCarriesArguments(t *testing.T) {
	cmd := NodeCommand("--listen", "127.0.0.1:0", `--name=a "quoted" value`)
	want := envArgs + `=["--listen","127.0.0.1:0","--name=a \"quoted\" value"]`
	if cmd.Env[len(cmd.Env)-1] != want {
		t.Fatalf("env %q, want %q", cmd.Env[len(cmd.Env)-1], want)
	}
	if len(cmd.Args) != 2 || cmd.Args[1] != "-test.run=^$" {
		t.Fatalf("args %q: the child must run no tests", cmd.Args)
	}
}

func TestNodeDir(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		wantKey   bool
	}{
		{name: "cluster node", key: "00ff", wantKey: true},
		{name: "no token key", key: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, cfg := NodeDir(t, tc.key, NoJoinLimit)
			if cfg != filepath.Join(dir, "conclave.yaml") {
				t.Fatalf("config file %s not in %s", cfg, dir)
			}
			if b, err := os.ReadFile(cfg); err != nil || string(b) != NoJoinLimit {
				t.Fatalf("config %q, %v", b, err)
			}
			fi, err := os.Stat(filepath.Join(dir, "token.key"))
			if !tc.wantKey {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("token.key written without a key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("token.key: %v", err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("token.key mode %v, want 0600", fi.Mode().Perm())
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "token.key")); string(b) != tc.key+"\n" {
				t.Fatalf("token.key holds %q", b)
			}
		})
	}
}

func TestRunNodeOnlyInANode(t *testing.T) {
	if _, ok := RunNode(signaling.App{Version: "test"}); ok {
		t.Fatal("a test process without NodeCommand's environment ran as a node")
	}
	t.Setenv(envArgs, "not a JSON array")
	if code, ok := RunNode(signaling.App{Version: "test"}); !ok || code != 2 {
		t.Fatalf("bad arguments: exit %d, node %v; want 2, true", code, ok)
	}
}
