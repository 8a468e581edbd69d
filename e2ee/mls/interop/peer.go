package interop

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// ErrPeer wraps an error the driver reported for a request (for example a
// message ts-mls rejected).
var ErrPeer = errors.New("interop: ts-mls rejected the request")

// Bytes is a byte string carried as lowercase hex in the driver protocol.
type Bytes []byte

// MarshalJSON encodes b as a hex string.
func (b Bytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(b)) }

// UnmarshalJSON decodes a hex string.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("interop: hex field: %w", err)
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("interop: hex field: %w", err)
	}
	*b = v
	return nil
}

// Wire selects the wire format of a commit the driver creates.
type Wire string

// Wire formats for commits (RFC 9420, Section 6).
const (
	PrivateMessage Wire = "private"
	PublicMessage  Wire = "public"
)

// Epoch is a ts-mls client's view of its group after an operation.
type Epoch struct {
	Epoch              uint64 `json:"epoch"`
	EpochAuthenticator Bytes  `json:"epoch_authenticator"`
}

// CommitResult is a commit created by ts-mls: the MLSMessage carrying the
// Commit, the Welcome MLSMessage if members were added, and the committer's
// new epoch.
type CommitResult struct {
	Epoch
	Commit  Bytes `json:"commit"`
	Welcome Bytes `json:"welcome,omitempty"`
}

// Member is one occupied leaf in a ts-mls client's tree.
type Member struct {
	Leaf     uint32 `json:"leaf"`
	Identity string `json:"identity"`
}

// State is a ts-mls client's epoch and roster.
type State struct {
	Epoch
	Members []Member `json:"members"`
}

// Peer is a running driver.mjs process. Its methods may be called from one
// goroutine at a time.
type Peer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Scanner
	nextID int
	mu     sync.Mutex
	closed bool
}

// Dir returns the folder holding driver.mjs and package.json.
func Dir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("interop: cannot locate the driver folder")
	}
	return filepath.Dir(file), nil
}

// Start installs the driver's npm dependencies if needed and starts the
// driver. The process ends with Close, or when ctx is done.
func Start(ctx context.Context) (*Peer, error) { return StartScript(ctx, "driver.mjs") }

// StartBench starts bench.mjs, the driver with the timing operations of
// the BenchCommit, BenchProcess and BenchAdd methods.
func StartBench(ctx context.Context) (*Peer, error) { return StartScript(ctx, "bench.mjs") }

// StartScript is Start for another script of the driver folder that speaks
// the same protocol.
func StartScript(ctx context.Context, script string) (*Peer, error) {
	if filepath.Base(script) != script {
		return nil, fmt.Errorf("interop: script %q must be a file name in the driver folder", script)
	}
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	if err := ensureInstalled(ctx, dir); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, script))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("interop: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("interop: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("interop: start node: %w", err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	return &Peer{cmd: cmd, stdin: stdin, out: sc}, nil
}

// ensureInstalled runs npm ci in dir unless node_modules/.installed exists.
// A lock file keeps concurrent test binaries from installing at once.
func ensureInstalled(ctx context.Context, dir string) error {
	marker := filepath.Join(dir, "node_modules", ".installed")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	lock := filepath.Join(dir, ".npm-install.lock")
	for {
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("interop: lock npm install: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interop: waiting for another npm install (remove %s if stale): %w", lock, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer os.Remove(lock)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("interop: npm ci in %s (needs Node 20 and the npm registry): %w\n%s", dir, err, out)
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	return nil
}

// Call sends one request and decodes the result fields into result (which
// may be nil). A driver-side failure is returned wrapped in ErrPeer.
func (p *Peer) Call(ctx context.Context, op string, params map[string]any, result any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("interop: peer closed")
	}
	p.nextID++
	id := p.nextID
	req := map[string]any{"id": id, "op": op}
	for k, v := range params {
		req[k] = v
	}
	line, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("interop: %s: %w", op, err)
	}
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("interop: %s: write to driver: %w", op, err)
	}
	// The scanner blocks on the pipe; the process (and so the pipe) ends
	// when ctx is done, because Start used exec.CommandContext.
	type outcome struct {
		line []byte
		err  error
	}
	done := make(chan outcome, 1)
	go func() {
		if p.out.Scan() {
			done <- outcome{line: append([]byte(nil), p.out.Bytes()...)}
			return
		}
		err := p.out.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		done <- outcome{err: err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-done
		p.closed = true
		return fmt.Errorf("interop: %s: %w", op, ctx.Err())
	}
	if o.err != nil {
		return fmt.Errorf("interop: %s: read from driver: %w", op, o.err)
	}
	var head struct {
		ID    int    `json:"id"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(o.line, &head); err != nil {
		return fmt.Errorf("interop: %s: bad response: %w", op, err)
	}
	if head.ID != id {
		return fmt.Errorf("interop: %s: response id %d, want %d", op, head.ID, id)
	}
	if !head.OK {
		return fmt.Errorf("%w: %s: %s", ErrPeer, op, head.Error)
	}
	if result != nil {
		if err := json.Unmarshal(o.line, result); err != nil {
			return fmt.Errorf("interop: %s: decode result: %w", op, err)
		}
	}
	return nil
}

// Close asks the driver to exit and waits for it.
func (p *Peer) Close() error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if !closed {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = p.Call(ctx, "shutdown", nil, nil)
		cancel()
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && !exitErr.Exited() {
			return nil // killed after a cancelled call
		}
		return fmt.Errorf("interop: driver exit: %w", err)
	}
	return nil
}

// KeyPackage has client (created with suite on first use) generate a
// KeyPackage and returns it as an MLSMessage. The private keys stay in the
// driver for a later Join.
func (p *Peer) KeyPackage(ctx context.Context, client string, suite uint16) ([]byte, error) {
	var r struct {
		KeyPackage Bytes `json:"key_package"`
	}
	err := p.Call(ctx, "key_package", map[string]any{"client": client, "suite": suite}, &r)
	return r.KeyPackage, err
}

// CreateGroup has client create a one-member group.
func (p *Peer) CreateGroup(ctx context.Context, client string, suite uint16, groupID []byte) (Epoch, error) {
	var r Epoch
	err := p.Call(ctx, "create_group", map[string]any{"client": client, "suite": suite, "group_id": Bytes(groupID)}, &r)
	return r, err
}

// Add has client commit Add proposals for the KeyPackage MLSMessages, with
// the ratchet_tree extension in the Welcome.
func (p *Peer) Add(ctx context.Context, client string, keyPackages [][]byte, wire Wire) (CommitResult, error) {
	kps := make([]Bytes, len(keyPackages))
	for i, kp := range keyPackages {
		kps[i] = kp
	}
	var r CommitResult
	err := p.Call(ctx, "add", map[string]any{"client": client, "key_packages": kps, "wire": wire}, &r)
	return r, err
}

// Remove has client commit Remove proposals for the leaves.
func (p *Peer) Remove(ctx context.Context, client string, leaves []uint32, wire Wire) (CommitResult, error) {
	var r CommitResult
	err := p.Call(ctx, "remove", map[string]any{"client": client, "leaves": leaves, "wire": wire}, &r)
	return r, err
}

// Commit has client commit with no proposals and an UpdatePath.
func (p *Peer) Commit(ctx context.Context, client string, wire Wire) (CommitResult, error) {
	var r CommitResult
	err := p.Call(ctx, "commit", map[string]any{"client": client, "wire": wire}, &r)
	return r, err
}

// Process has client process a PublicMessage or PrivateMessage MLSMessage.
func (p *Peer) Process(ctx context.Context, client string, message []byte) (Epoch, error) {
	var r Epoch
	err := p.Call(ctx, "process", map[string]any{"client": client, "message": Bytes(message)}, &r)
	return r, err
}

// Join has client join from a Welcome MLSMessage using one of its
// KeyPackages; ratchetTree (serialized optional<Node> ratchet_tree<V>) may be
// nil when the Welcome carries the ratchet_tree extension.
func (p *Peer) Join(ctx context.Context, client string, welcome, ratchetTree []byte) (Epoch, error) {
	params := map[string]any{"client": client, "welcome": Bytes(welcome)}
	if ratchetTree != nil {
		params["ratchet_tree"] = Bytes(ratchetTree)
	}
	var r Epoch
	err := p.Call(ctx, "join", params, &r)
	return r, err
}

// Export returns MLS-Exporter(label, context, length) of client's epoch
// (RFC 9420, Section 8.5).
func (p *Peer) Export(ctx context.Context, client, label string, context []byte, length int) ([]byte, error) {
	var r struct {
		Secret Bytes `json:"secret"`
	}
	err := p.Call(ctx, "export", map[string]any{"client": client, "label": label, "context": Bytes(context), "length": length}, &r)
	return r.Secret, err
}

// EpochAuthenticator returns client's epoch and epoch_authenticator
// (RFC 9420, Section 8.7).
func (p *Peer) EpochAuthenticator(ctx context.Context, client string) (Epoch, error) {
	var r Epoch
	err := p.Call(ctx, "epoch_authenticator", map[string]any{"client": client}, &r)
	return r, err
}

// State returns client's epoch and roster.
func (p *Peer) State(ctx context.Context, client string) (State, error) {
	var r State
	err := p.Call(ctx, "state", map[string]any{"client": client}, &r)
	return r, err
}
