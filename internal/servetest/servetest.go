package servetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"conclave/signaling"
)

// envArgs carries a node's arguments (a JSON array) from NodeCommand to
// RunNode in the re-executed test binary.
const envArgs = "CONCLAVE_SERVETEST_NODE"

// RunNode runs this process as a node if NodeCommand started it: it runs
// signaling.Command with app and the arguments NodeCommand was given until
// SIGTERM or an interrupt, and returns the exit status for TestMain to exit
// with (0 after a clean shutdown, 1 after an error, 2 for bad arguments)
// and true. Otherwise it returns false at once. Call it first in TestMain:
//
//	if code, ok := servetest.RunNode(app); ok {
//		os.Exit(code)
//	}
func RunNode(app signaling.App) (code int, ok bool) {
	v, ok := os.LookupEnv(envArgs)
	if !ok {
		return 0, false
	}
	var args []string
	if err := json.Unmarshal([]byte(v), &args); err != nil {
		fmt.Fprintf(os.Stderr, "servetest: bad %s: %v\n", envArgs, err)
		return 2, true
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := signaling.Command(ctx, app, args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1, true
	}
	return 0, true
}

// NodeCommand returns a command that runs this test binary as a node with
// args (`conclave serve`'s flags); the binary's TestMain must call RunNode.
func NodeCommand(args ...string) *exec.Cmd {
	b, _ := json.Marshal(args) // a []string always marshals
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envArgs+"="+string(b))
	return cmd
}

// Buffer is a bytes.Buffer safe for concurrent use: a child process writes
// it while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Node is a running node process.
type Node struct {
	// URL is the public base URL the node printed ("is running at").
	URL string
	// AdminURL is its admin listener's base URL, if Options.Admin.
	AdminURL string
	// Cmd is the process (the command that started the node: strace, say).
	Cmd *exec.Cmd
	// Stderr is what the process wrote to standard error so far.
	Stderr *Buffer

	exited  chan struct{}
	waitErr error
}

// Exited is closed when the process has exited.
func (n *Node) Exited() <-chan struct{} { return n.exited }

// WaitErr is what exec.Cmd.Wait returned; call it after Exited is closed.
func (n *Node) WaitErr() error {
	<-n.exited
	return n.waitErr
}

// Options says what Start waits for.
type Options struct {
	// Admin waits for the admin listener's URL too (--admin-listen).
	Admin bool
	// Timeout bounds the wait for the URLs; zero means 20 seconds.
	Timeout time.Duration
}

// What a node prints before its URLs (signaling.Command).
const (
	runningAt = "is running at "
	adminAt   = "Admin API, metrics and health at "
)

// wordAfter returns the word that follows marker in line, if any.
func wordAfter(line, marker string) string {
	_, rest, ok := strings.Cut(line, marker)
	if f := strings.Fields(rest); ok && len(f) > 0 {
		return f[0]
	}
	return ""
}

// Start starts cmd (with Stdout and Stderr unset), waits until the node
// prints its URLs, and kills the process when the test ends. It fails the
// test if the node exits first or is not serving within the timeout.
func Start(t testing.TB, cmd *exec.Cmd, opts Options) *Node {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 20 * time.Second
	}
	n, err := start(t, cmd, opts)
	if err != nil {
		t.Fatalf("servetest: %v\n%s", err, n.Stderr.String())
	}
	return n
}

func start(t testing.TB, cmd *exec.Cmd, opts Options) (*Node, error) {
	n := &Node{Cmd: cmd, Stderr: &Buffer{}, exited: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return n, fmt.Errorf("stdout pipe: %w", err)
	}
	cmd.Stderr = n.Stderr
	if err := cmd.Start(); err != nil {
		return n, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	type urls struct{ public, admin string }
	ready := make(chan urls, 1)
	go func() {
		var u urls
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if w := wordAfter(sc.Text(), runningAt); w != "" {
				u.public = w
			}
			if w := wordAfter(sc.Text(), adminAt); w != "" {
				u.admin = w
			}
			if u.public != "" && (u.admin != "" || !opts.Admin) {
				select {
				case ready <- u:
				default:
				}
			}
		}
		// Keep reading until the process closes its output, so that it
		// never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { n.waitErr = cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-n.exited
	})
	select {
	case u := <-ready:
		n.URL, n.AdminURL = u.public, u.admin
		return n, nil
	case <-n.exited:
		return n, fmt.Errorf("node exited before serving: %v", n.waitErr)
	case <-time.After(opts.Timeout):
		return n, fmt.Errorf("node not serving after %v", opts.Timeout)
	}
}

// NoJoinLimit is a node configuration (YAML) whose join rate limit lets a
// test's bots, all on one address, join as fast as they like.
const NoJoinLimit = "join:\n  rate_burst: 1000\n  rate_interval: 1ms\n"

// NodeDir makes a data folder for a node: tokenKey (hex; every node of a
// cluster signs and checks join tokens with the same key) in token.key,
// unless empty, and config (YAML) in conclave.yaml. It returns the folder
// and the config file's path, for --data and --config.
func NodeDir(t testing.TB, tokenKey, config string) (dir, configFile string) {
	t.Helper()
	dir = t.TempDir()
	if tokenKey != "" {
		if err := os.WriteFile(filepath.Join(dir, "token.key"), []byte(tokenKey+"\n"), 0o600); err != nil {
			t.Fatalf("servetest: %v", err)
		}
	}
	configFile = filepath.Join(dir, "conclave.yaml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatalf("servetest: %v", err)
	}
	return dir, configFile
}
