// Package servetest runs `conclave serve` nodes as child processes for tests
// that need real processes (a cluster test kills one with SIGKILL): the test
// binary re-executes itself as a node (the helper-process pattern of
// os/exec's tests: NodeCommand in the parent, RunNode in TestMain), or the
// test builds its own command (a built binary under strace). Start waits for
// the URLs a node prints, keeps what it writes to standard error, and kills
// it when the test ends. For a server run inside the test process instead,
// LoopbackEngine starts the SFU engine on loopback.
//
// Test support only: it must never be imported by production code. It
// implements no RFC and handles no secrets beyond the test keys its callers
// put on a node's command line or in its data folder.
package servetest
