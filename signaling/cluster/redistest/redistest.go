// Package redistest starts a private redis-server (Debian's) on a loopback
// port for a test, and stops it when the test ends. A missing redis-server
// fails the test: cluster tests are never skipped.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a running redis-server.
type Server struct {
	Addr string
	cmd  *exec.Cmd
}

// Start runs redis-server on a free loopback port with no persistence.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (run scripts/ensure-deps test, or apt-get install redis-server): %v", err)
	}
	// redis-server cannot listen on a port the kernel picks (--port 0 turns
	// TCP off) nor take a listening socket from its parent, so the port is
	// picked here and bound by redis-server a moment later: another socket
	// may take it in between. Then redis-server exits (and Start tries a
	// fresh port), or, worse, another test's redis-server holds the port and
	// answers: start checks that the server answering is the process it
	// started.
	var lastErr error
	for range 5 {
		port, err := unusedPort()
		if err != nil {
			t.Fatal(err)
		}
		s, err := start(t, bin, port)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// unusedPort returns a loopback TCP port no socket holds at this moment.
func unusedPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// processID reads the process ID the redis-server answering c reports
// (INFO server, field process_id).
func processID(ctx context.Context, c *redis.Client) (int, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("no process_id in INFO server")
}

func start(t testing.TB, bin string, port int) (*Server, error) {
	dir := t.TempDir()
	cmd := exec.Command(bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd}
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		pid, err := processID(ctx, c)
		cancel()
		if err == nil && pid != cmd.Process.Pid {
			cmd.Process.Kill()
			<-exited
			return nil, fmt.Errorf("port %d is another redis-server's (process %d)", port, pid)
		}
		if err == nil {
			break
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("redis-server on port %d exited: %v", port, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return nil, fmt.Errorf("redis-server on port %d did not answer: %w", port, err)
		}
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return s, nil
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Client returns a client closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}
