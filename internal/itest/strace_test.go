package itest

// The strace monitor behind the no-phoning-home test: build the binary, run
// it under strace, parse the destinations it sent to, judge them.

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"conclave/internal/servetest"
)

// buildConclave builds the conclave command into a temporary folder.
func buildConclave(t *testing.T) string {
	t.Helper()
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "conclave")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = strings.TrimSpace(string(root))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build conclave: %v\n%s", err, out)
	}
	return bin
}

// endpoint is one destination a traced process addressed.
type endpoint struct {
	family string // AF_INET, AF_INET6, AF_UNIX, AF_NETLINK, ...
	ip     net.IP
	port   int
	path   string // AF_UNIX
}

func (e endpoint) String() string {
	switch e.family {
	case "AF_INET", "AF_INET6":
		return e.family + " " + net.JoinHostPort(e.ip.String(), strconv.Itoa(e.port))
	case "AF_UNIX":
		return "AF_UNIX " + e.path
	}
	return e.family
}

var (
	sockaddrRE = regexp.MustCompile(`\{sa_family=(AF_[A-Z0-9]+)[^{}]*\}`)
	portRE     = regexp.MustCompile(`sin6?_port=htons\((\d+)\)`)
	ip4RE      = regexp.MustCompile(`sin_addr=inet_addr\("([0-9.]+)"\)`)
	ip6RE      = regexp.MustCompile(`inet_pton\(AF_INET6, "([0-9a-fA-F:.]+)"`)
	unixRE     = regexp.MustCompile(`sun_path=(@?"[^"]*")`)
	syscallRE  = regexp.MustCompile(`^\d+\s+(connect|sendto|sendmsg|sendmmsg)\(`)
)

// parseTrace returns every destination address in an strace log written
// with -f -v -s 0 -e trace=connect,sendto,sendmsg,sendmmsg, and how many
// traced calls it read.
func parseTrace(log []byte) (eps []endpoint, calls int, err error) {
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if syscallRE.MatchString(line) {
			calls++
		}
		for _, m := range sockaddrRE.FindAllStringSubmatch(line, -1) {
			e := endpoint{family: m[1]}
			switch e.family {
			case "AF_INET", "AF_INET6":
				p := portRE.FindStringSubmatch(m[0])
				var a []string
				if e.family == "AF_INET" {
					a = ip4RE.FindStringSubmatch(m[0])
				} else {
					a = ip6RE.FindStringSubmatch(m[0])
				}
				if p == nil || a == nil {
					return nil, calls, fmt.Errorf("unparsed address %q", m[0])
				}
				e.port, _ = strconv.Atoi(p[1])
				e.ip = net.ParseIP(a[1])
			case "AF_UNIX":
				if u := unixRE.FindStringSubmatch(m[0]); u != nil {
					e.path = u[1]
				}
			case "AF_UNSPEC":
				continue // connect(AF_UNSPEC) dissolves a UDP association
			}
			eps = append(eps, e)
		}
	}
	return eps, calls, sc.Err()
}

// allowList is what the configuration names: exact TCP/UDP endpoints
// (Redis, an ACME CA) and the clients' port range on this machine's
// loopback.
type allowList struct {
	exact              map[string]bool // "ip:port"
	clientLo, clientHi int
	// clients are the ports of the test process's sockets, where the bots
	// live: their TURN client sockets are not in the pinned range.
	clients map[int]bool
	// self are the node's own sockets' ports: loopback datagrams to them go
	// from the node to itself (its ICE agent to its TURN relay).
	self map[int]bool
}

func (a allowList) allows(e endpoint) bool {
	switch e.family {
	case "AF_NETLINK":
		return true // the kernel (interface and address lists), not the network
	case "AF_INET", "AF_INET6":
		ip := e.ip
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		if a.exact[net.JoinHostPort(ip.String(), strconv.Itoa(e.port))] {
			return true
		}
		return ip.IsLoopback() && (e.port >= a.clientLo && e.port <= a.clientHi || a.clients[e.port] || a.self[e.port])
	}
	return false
}

// violations lists the destinations of log that a does not allow, with
// how often each was addressed; calls is the number of traced calls read.
func (a allowList) violations(t *testing.T, log []byte) (bad map[string]int, seen map[string]int, calls int) {
	t.Helper()
	eps, calls, err := parseTrace(log)
	if err != nil {
		t.Fatalf("strace log: %v", err)
	}
	bad, seen = map[string]int{}, map[string]int{}
	for _, e := range eps {
		seen[e.String()]++
		if !a.allows(e) {
			bad[e.String()]++
		}
	}
	return bad, seen, calls
}

// tracedNode is one `conclave serve` process under strace (Node is the
// strace process).
type tracedNode struct {
	*servetest.Node
	id    string
	trace string // strace's log file

	mu  sync.Mutex
	own map[int]bool // ports of the node's own sockets, sampled while it ran
}

func (n *tracedNode) baseURL() string { return n.URL }

// startTraced starts bin serve with args under strace and waits for it to
// print its URL (and its admin URL, given --admin-listen).
func startTraced(t *testing.T, bin, id, dir string, args ...string) *tracedNode {
	t.Helper()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace is needed to watch the server's connections: apt-get install strace")
	}
	trace := filepath.Join(dir, "strace.log")
	full := append([]string{"-f", "-qq", "--seccomp-bpf", "-v", "-s", "0", "-e", "trace=connect,sendto,sendmsg,sendmmsg",
		"-e", "signal=none", "-o", trace, "--", bin, "serve", "--data", dir, "--no-link"}, args...)
	cmd := exec.Command(strace, full...)
	// The serve process holds the output pipes too: Wait must not wait for
	// it once strace is gone.
	cmd.WaitDelay = 5 * time.Second
	node := servetest.Start(t, cmd, servetest.Options{Admin: slices.Contains(args, "--admin-listen"), Timeout: 60 * time.Second})
	n := &tracedNode{Node: node, id: id, trace: trace, own: map[int]bool{}}
	sampled := make(chan struct{})
	go func() { defer close(sampled); n.sampleOwnPorts() }()
	// Runs before servetest's cleanup: the serve process first, then strace.
	t.Cleanup(func() {
		if pid := n.servePID(); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		n.Cmd.Process.Kill()
		<-sampled
	})
	return n
}

// sampleOwnPorts records the local ports of the node's sockets every 20 ms
// until it exits: the embedded TURN server's relay sockets are on ports
// picked at allocation, and the node's ICE agent addresses them (through
// the relay, its clients reach it); such datagrams go from the node to
// itself.
func (n *tracedNode) sampleOwnPorts() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-n.Exited():
			return
		case <-tick.C:
		}
		pid := n.servePID()
		if pid <= 0 {
			continue
		}
		ports := ownPorts(pid, false)
		n.mu.Lock()
		for p := range ports {
			n.own[p] = true
		}
		n.mu.Unlock()
	}
}

// ownPorts lists the local ports of the sockets process pid holds open:
// the socket inodes of /proc/PID/fd matched in /proc/PID/net/{udp,tcp}{,6}
// (only the udp tables with udpOnly).
func ownPorts(pid int, udpOnly bool) map[int]bool {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	ports := map[int]bool{}
	tables := []string{"udp", "udp6", "tcp", "tcp6"}
	if udpOnly {
		tables = tables[:2]
	}
	for _, table := range tables {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			if i := strings.LastIndexByte(f[1], ':'); i >= 0 {
				if p, err := strconv.ParseUint(f[1][i+1:], 16, 16); err == nil {
					ports[int(p)] = true
				}
			}
		}
	}
	return ports
}

func (n *tracedNode) ownPorts() map[int]bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[int]bool, len(n.own))
	for p := range n.own {
		out[p] = true
	}
	return out
}

// servePID is the traced conclave process: strace's child.
func (n *tracedNode) servePID() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", n.Cmd.Process.Pid, n.Cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	pid, _ := strconv.Atoi(f[0])
	return pid
}

// stop ends the node with SIGTERM (a clean shutdown, which is traced too)
// and waits for strace to finish its log.
func (n *tracedNode) stop(t *testing.T) {
	t.Helper()
	if pid := n.servePID(); pid > 0 {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	select {
	case <-n.Exited():
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not stop", n.id)
	}
}

func (n *tracedNode) log(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(n.trace)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseTrace pins the parser to strace 6's output for each family.
func TestParseTrace(t *testing.T) {
	log := `101 connect(7, {sa_family=AF_INET, sin_port=htons(6379), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
102 sendto(9, ""..., 20, 0, {sa_family=AF_INET, sin_port=htons(46001), sin_addr=inet_addr("127.0.0.1")}, 16) = 20
103 sendmsg(9, {msg_name={sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, msg_namelen=28, msg_iov=[{iov_base=""..., iov_len=10}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 10
104 sendto(3, {{len=20, type=RTM_GETLINK, flags=NLM_F_REQUEST|NLM_F_DUMP, seq=1, pid=0}, {ifi_family=AF_UNSPEC, ...}}, 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20
105 connect(5, {sa_family=AF_UNIX, sun_path="/run/systemd/journal/socket"}, 29) = 0
106 connect(8, {sa_family=AF_UNSPEC, sa_data="\0\0\0\0\0\0\0\0\0\0\0\0\0\0"}, 16) = 0
107 sendto(10, ""..., 5, MSG_NOSIGNAL, NULL, 0) = 5
108 connect(11, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("192.0.2.53")}, 16 <unfinished ...>
`
	eps, calls, err := parseTrace([]byte(log))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range eps {
		got = append(got, e.String())
	}
	want := []string{"AF_INET 127.0.0.1:6379", "AF_INET 127.0.0.1:46001", "AF_INET6 [2001:db8::1]:443", "AF_NETLINK",
		`AF_UNIX "/run/systemd/journal/socket"`, "AF_INET 192.0.2.53:53"}
	if strings.Join(got, "|") != strings.Join(want, "|") || calls != 8 {
		t.Fatalf("parsed %d calls:\n%v\nwant\n%v", calls, got, want)
	}
	allow := allowList{exact: map[string]bool{"127.0.0.1:6379": true}, clientLo: clientPortLo, clientHi: clientPortHi}
	for i, wantOK := range []bool{true, true, false, true, false, false} {
		if allow.allows(eps[i]) != wantOK {
			t.Errorf("%s: allowed %v, want %v", eps[i], !wantOK, wantOK)
		}
	}
}
