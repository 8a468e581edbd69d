package redistest

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestStartRefusesAnotherServer is the race Start guards against: the port
// it picked is taken by another redis-server before its own binds. The
// other server answers on the port; start must notice that it is not the
// process it started, rather than hand the test someone else's server.
func TestStartRefusesAnotherServer(t *testing.T) {
	first := Start(t)
	_, portText, _ := strings.Cut(first.Addr, ":")
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := start(t, bin, port); err == nil {
		t.Fatalf("start on %s's port returned a server at %s", first.Addr, s.Addr)
	}
	// The first server is untouched and is the process Start ran.
	pid, err := processID(context.Background(), first.Client(t))
	if err != nil || pid != first.cmd.Process.Pid {
		t.Fatalf("first server: process %d (%v), started %d", pid, err, first.cmd.Process.Pid)
	}
}
