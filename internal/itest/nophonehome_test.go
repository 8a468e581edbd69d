package itest

// No phoning home (DESIGN.md P6): the real `conclave serve` binary, built by
// the test, runs as three cluster nodes on one redis-server, each under
// strace, which records every connect, sendto, sendmsg and sendmmsg system
// call with its destination address, in every thread and child process. A
// meeting of E2EE bots runs across the nodes, admin actions go through the
// admin API, one node is killed and its meeting moves to another; then every
// destination any node addressed must be one the configuration names: the
// Redis server, or a client (the bots, whose media ports are pinned to a
// range). Writes on accepted or connected sockets carry no address and are
// answers to peers that connected first.
//
// The monitor is shown able to fail: a node configured for ACME whose CA
// directory is a loopback listener opens a connection there at the first
// TLS handshake, and the check reports it unless that address is allowed.
//
// strace sees system calls, not packets: a connection attempt that fails
// (unreachable network, refused port) is recorded all the same.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
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

	"conclave/clients/bot"
	"conclave/signaling/cluster/redistest"
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

// tracedNode is one `conclave serve` process under strace.
type tracedNode struct {
	id, url, admin string
	trace          string // strace's log file
	strace         *exec.Cmd
	exited         chan struct{}
	stderr         *lockedBuffer

	mu  sync.Mutex
	own map[int]bool // ports of the node's own sockets, sampled while it ran
}

var (
	npRunningAt = regexp.MustCompile(`is running at (https?://\S+)`)
	npAdminAt   = regexp.MustCompile(`Admin API, metrics and health at (http://\S+)`)
)

// startTraced starts bin serve with args under strace and waits for it to
// print its URL.
func startTraced(t *testing.T, bin, id, dir string, args ...string) *tracedNode {
	t.Helper()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace is needed to watch the server's connections: apt-get install strace")
	}
	n := &tracedNode{id: id, trace: filepath.Join(dir, "strace.log"), exited: make(chan struct{}), stderr: &lockedBuffer{}, own: map[int]bool{}}
	full := append([]string{"-f", "-qq", "--seccomp-bpf", "-v", "-s", "0", "-e", "trace=connect,sendto,sendmsg,sendmmsg",
		"-e", "signal=none", "-o", n.trace, "--", bin, "serve", "--data", dir, "--no-link"}, args...)
	n.strace = exec.Command(strace, full...)
	out, err := n.strace.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n.strace.Stderr = n.stderr
	if err := n.strace.Start(); err != nil {
		t.Fatal(err)
	}
	type addrs struct{ url, admin string }
	ready := make(chan addrs, 1)
	go func() {
		var a addrs
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := npRunningAt.FindStringSubmatch(sc.Text()); m != nil {
				a.url = m[1]
			}
			if m := npAdminAt.FindStringSubmatch(sc.Text()); m != nil {
				a.admin = m[1]
			}
			if a.url != "" && (a.admin != "" || !strings.Contains(strings.Join(args, " "), "--admin-listen")) {
				select {
				case ready <- a:
				default:
				}
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { n.strace.Wait(); close(n.exited) }()
	sampled := make(chan struct{})
	go func() { defer close(sampled); n.sampleOwnPorts() }()
	// The serve process holds the output pipes too: Wait must not wait
	// for it once strace is gone.
	n.strace.WaitDelay = 5 * time.Second
	t.Cleanup(func() {
		if pid := n.servePID(); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		n.strace.Process.Kill()
		<-n.exited
		<-sampled
	})
	select {
	case a := <-ready:
		n.url, n.admin = a.url, a.admin
	case <-n.exited:
		t.Fatalf("node %s exited: %s", id, n.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("node %s did not start: %s", id, n.stderr.String())
	}
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
		case <-n.exited:
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
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", n.strace.Process.Pid, n.strace.Process.Pid))
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
	case <-n.exited:
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

// clientPorts pins the bots' UDP sockets to a range of ports, so that the
// clients' addresses are known to the check.
const clientPortLo, clientPortHi = 46000, 46999

func clientAPI(t *testing.T) bot.Config {
	se := bot.LoopbackSettings()
	if err := se.SetEphemeralUDPPortRange(clientPortLo, clientPortHi); err != nil {
		t.Fatal(err)
	}
	api, err := bot.NewAPI(bot.WithSettingEngine(se))
	if err != nil {
		t.Fatal(err)
	}
	return bot.Config{API: api, ConnectTimeout: 20 * time.Second, ResumeAttempts: 2}
}

func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	p := filepath.Join(dir, "conclave.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func adminCall(t *testing.T, base, key, method, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin %s %s: HTTP %d %s", method, path, resp.StatusCode, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("admin %s %s: %v: %s", method, path, err, body)
		}
	}
}

func TestNoPhoneHome(t *testing.T) {
	bin := buildConclave(t)
	rds := redistest.Start(t)
	var tokenKey [32]byte
	rand.Read(tokenKey[:])
	cfg := "join:\n  rate_burst: 1000\n  rate_interval: 1ms\n"

	// n1 has the admin API; its API key is made with the CLI beforehand.
	var nodes []*tracedNode
	var adminKey string
	for i := range 3 {
		id := fmt.Sprintf("n%d", i+1)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "token.key"), []byte(hex.EncodeToString(tokenKey[:])+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// Every node serves /metrics on its admin listener; n1's admin API
		// is the one the test acts through.
		args := []string{"--config", writeConfig(t, dir, cfg), "--listen", "127.0.0.1:0", "--redis", rds.URL(), "--node-id", id,
			"--udp-port", "0", "--tcp-port", "-1", "--turn-port", "0", "--log-format", "json", "--admin-listen", "127.0.0.1:0"}
		if i == 0 {
			out, err := exec.Command(bin, "admin", "create-key", "--data", dir, "--scopes", "all", "--ttl", "1h", "--label", "itest").Output()
			if err != nil {
				t.Fatalf("create-key: %v", err)
			}
			adminKey = regexp.MustCompile(`ck_\S+`).FindString(string(out))
		}
		nodes = append(nodes, startTraced(t, bin, id, dir, args...))
	}
	byWS := map[string]*tracedNode{}
	for _, n := range nodes {
		byWS["ws://"+strings.TrimPrefix(n.url, "http://")] = n
	}
	// The clients' sockets: this process's, sampled while the bots run.
	clients := map[int]bool{}
	var clientsMu sync.Mutex
	stopSampling := make(chan struct{})
	sampling := make(chan struct{})
	go func() {
		defer close(sampling)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			// The bots' media and TURN client sockets: UDP only (a node never
			// connects to a client over TCP).
			ports := ownPorts(os.Getpid(), true)
			clientsMu.Lock()
			for p := range ports {
				clients[p] = true
			}
			clientsMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		select {
		case <-stopSampling:
		default:
			close(stopSampling)
		}
		<-sampling
	})

	// Two meetings of two E2EE bots each, created and joined through n1:
	// placement puts them on different nodes.
	base := clientAPI(t)
	botCfg := func(name string) bot.Config {
		c := base
		c.Name, c.Logger = name, testLogger(t).With("bot", name)
		return c
	}
	front := &server{t: t, base: nodes[0].url}
	type meeting struct {
		link, room string
		node       *tracedNode
		bots       []*bot.Bot
	}
	var meetings []*meeting
	for i := range 2 {
		m := &meeting{link: front.newMeeting()}
		m.room = strings.SplitN(strings.TrimPrefix(m.link, nodes[0].url+"/m/"), "#", 2)[0]
		for j := range 2 {
			b, err := bot.Join(context.Background(), m.link, botCfg(fmt.Sprintf("m%d-b%d", i, j)))
			if err != nil {
				t.Fatalf("meeting %d bot %d: %v", i, j, err)
			}
			t.Cleanup(b.Close)
			m.bots = append(m.bots, b)
		}
		m.node = byWS[joinAnswerURL(t, nodes[1].url, m.room)]
		if m.node == nil {
			t.Fatal("join answer names no known node")
		}
		meetings = append(meetings, m)
	}
	media := func(bs []*bot.Bot) func() bool {
		return func() bool {
			for _, b := range bs {
				for _, o := range bs {
					if b != o && !receivedFrom(b.Report(), identity(o), 25, 10) {
						return false
					}
				}
			}
			return true
		}
	}
	for _, m := range meetings {
		waitFor(t, 30*time.Second, "decrypted media on "+m.node.id, media(m.bots), m.bots...)
	}
	// The media plane's and the delivery service's metrics on the nodes
	// that run the meetings.
	for _, m := range meetings {
		got := scrape(t, m.node.admin)
		for _, name := range []string{"conclave_forwarded_packets_total", "conclave_forwarded_bytes_total", "conclave_received_packets_total"} {
			if got[name] <= 0 {
				t.Errorf("node %s: %s = %v during a meeting", m.node.id, name, got[name])
			}
		}
		if got["conclave_ds_connections"] != 2 {
			t.Errorf("node %s: conclave_ds_connections = %v, want the meeting's 2 bots", m.node.id, got["conclave_ds_connections"])
		}
		for _, name := range []string{"conclave_lost_packets_from_publishers_total", "conclave_lost_packets_to_subscribers_total",
			"conclave_dropped_packets_slow_subscribers_total", "conclave_ds_send_queue_bytes", "conclave_ds_lobby_joiners"} {
			if _, ok := got[name]; !ok {
				t.Errorf("node %s: no metric %s", m.node.id, name)
			}
		}
		t.Logf("node %s metrics: received %v, forwarded %v packets (%v bytes), lost from publishers %v, to subscribers %v, dropped %v; DS connections %v, queued %v bytes",
			m.node.id, got["conclave_received_packets_total"], got["conclave_forwarded_packets_total"], got["conclave_forwarded_bytes_total"],
			got["conclave_lost_packets_from_publishers_total"], got["conclave_lost_packets_to_subscribers_total"],
			got["conclave_dropped_packets_slow_subscribers_total"], got["conclave_ds_connections"], got["conclave_ds_send_queue_bytes"])
	}

	// Admin actions through n1's admin API.
	var ms struct {
		Meetings []struct {
			Room string `json:"room"`
			Node string `json:"node"`
		} `json:"meetings"`
	}
	adminCall(t, nodes[0].admin, adminKey, "GET", "/admin/v1/meetings", &ms)
	if len(ms.Meetings) != 2 {
		t.Fatalf("admin sees %d meetings, want 2", len(ms.Meetings))
	}
	adminCall(t, nodes[0].admin, adminKey, "GET", "/admin/v1/nodes", nil)
	var spare *tracedNode
	for _, n := range nodes {
		if n != meetings[0].node && n != meetings[1].node {
			spare = n
		}
	}
	adminCall(t, nodes[0].admin, adminKey, "POST", "/admin/v1/nodes/"+spare.id+"/drain", nil)
	adminCall(t, nodes[0].admin, adminKey, "POST", "/admin/v1/nodes/"+spare.id+"/undrain", nil)
	adminCall(t, nodes[0].admin, adminKey, "GET", "/admin/v1/audit/verify", nil)
	metrics, err := http.Get(nodes[0].admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics.Body.Close()

	// Failover: the node of meeting 0 dies (unless it is n1, whose admin
	// API the test uses; then meeting 1's node).
	victim := meetings[0]
	if victim.node == nodes[0] {
		victim = meetings[1]
	}
	if pid := victim.node.servePID(); pid <= 0 {
		t.Fatal("no serve process under strace")
	} else if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.node.exited
	var back []*bot.Bot
	for j := range victim.bots {
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, err := bot.Join(context.Background(), victim.link, botCfg(fmt.Sprintf("rejoin-%d", j)))
			if err == nil {
				t.Cleanup(b.Close)
				back = append(back, b)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rejoin after the node died: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor(t, 30*time.Second, "decrypted media after failover", media(back), back...)
	// And the other meeting ends by an admin's hand.
	other := meetings[0]
	if other == victim {
		other = meetings[1]
	}
	otherKey := ""
	for _, am := range ms.Meetings {
		if am.Node == other.node.id {
			otherKey = am.Room
		}
	}
	adminCall(t, nodes[0].admin, adminKey, "POST", "/admin/v1/meetings/"+otherKey+"/end", nil)
	for _, b := range append(append([]*bot.Bot{}, back...), victim.bots...) {
		b.Close()
	}
	for _, m := range meetings {
		for _, b := range m.bots {
			b.Close()
		}
	}
	for _, n := range nodes {
		if n != victim.node {
			n.stop(t)
		}
	}

	// Every destination must be Redis or a client.
	redisAddr, err := net.ResolveTCPAddr("tcp", rds.Addr)
	if err != nil {
		t.Fatal(err)
	}
	close(stopSampling)
	<-sampling
	allow := allowList{exact: map[string]bool{redisAddr.String(): true}, clientLo: clientPortLo, clientHi: clientPortHi, clients: clients}
	for _, n := range nodes {
		allow.self = n.ownPorts()
		if len(allow.self) == 0 {
			t.Fatalf("node %s: no sockets sampled", n.id)
		}
		bad, seen, calls := allow.violations(t, n.log(t))
		if calls == 0 || seen[("AF_INET "+redisAddr.String())] == 0 {
			t.Fatalf("node %s: the trace holds %d calls and no connection to Redis: is strace recording? (%v)", n.id, calls, seen)
		}
		t.Logf("node %s: %d traced calls to %d destinations: %v", n.id, calls, len(seen), summarize(seen, allow))
		if len(bad) > 0 {
			t.Errorf("node %s addressed destinations the config does not name: %v\n%s", n.id, bad, firstLines(n.log(t), bad))
		}
	}
}

// firstLines returns, for each bad destination, the first trace line that
// addressed it.
func firstLines(log []byte, bad map[string]int) string {
	var out []string
	for k := range bad {
		_, port, _ := net.SplitHostPort(k[strings.IndexByte(k, ' ')+1:])
		for _, line := range strings.Split(string(log), "\n") {
			if port != "" && strings.Contains(line, "htons("+port+")") {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// scrape reads the unlabelled samples of a node's /metrics.
func scrape(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || strings.HasPrefix(f[0], "#") || strings.Contains(f[0], "{") {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}

// summarize groups the clients' ports for the log.
func summarize(seen map[string]int, a allowList) string {
	clients, calls, selfPorts, selfCalls := 0, 0, 0, 0
	var rest []string
	for k, v := range seen {
		hostPort := strings.TrimPrefix(strings.TrimPrefix(k, "AF_INET6 "), "AF_INET ")
		if _, port, err := net.SplitHostPort(hostPort); err == nil {
			p, _ := strconv.Atoi(port)
			switch {
			case a.exact[hostPort]:
				rest = append(rest, fmt.Sprintf("configured %s x%d", hostPort, v))
				continue
			case p >= a.clientLo && p <= a.clientHi || a.clients[p]:
				clients++
				calls += v
				continue
			case a.self[p]:
				selfPorts++
				selfCalls += v
				continue
			}
		}
		rest = append(rest, fmt.Sprintf("%s x%d", k, v))
	}
	slices.Sort(rest)
	return fmt.Sprintf("%d client ports (%d calls), %d of its own ports (%d calls), %s", clients, calls, selfPorts, selfCalls, strings.Join(rest, ", "))
}

// TestNoPhoneHomeDetectsOutbound shows the check fails when a process opens
// a connection the allow list does not name: a node configured for ACME
// with its CA directory on a loopback listener contacts it at the first
// TLS handshake for its domain.
func TestNoPhoneHomeDetectsOutbound(t *testing.T) {
	bin := buildConclave(t)
	// The stand-in CA must not sit in the bots' client port range, which
	// the check allows by design; an ephemeral port can land there.
	var ca net.Listener
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if p := l.Addr().(*net.TCPAddr).Port; p >= clientPortLo && p <= clientPortHi {
			l.Close()
			continue
		}
		ca = l
		break
	}
	if ca == nil {
		t.Fatal("no listening port outside the client range")
	}
	defer ca.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ca.Close()
	accepted := make(chan struct{}, 1)
	wg.Go(func() {
		for {
			c, err := ca.Accept()
			if err != nil {
				return
			}
			select {
			case accepted <- struct{}{}:
			default:
			}
			c.Close()
		}
	})
	dir := t.TempDir()
	cfg := fmt.Sprintf("tls:\n  acme_domains: [meet.example.org]\n  acme_directory: https://%s/directory\n", ca.Addr())
	n := startTraced(t, bin, "acme", dir, "--config", writeConfig(t, dir, cfg), "--listen", "127.0.0.1:0",
		"--udp-port", "0", "--tcp-port", "-1", "--no-turn")
	// A TLS handshake naming the domain makes the node ask its CA.
	addr := strings.TrimPrefix(n.url, "https://meet.example.org:")
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", "127.0.0.1:"+addr,
		&tls.Config{ServerName: "meet.example.org", InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		t.Fatal("handshake succeeded without a certificate")
	}
	select {
	case <-accepted:
	case <-time.After(20 * time.Second):
		t.Fatal("the node never contacted its configured ACME directory")
	}
	n.stop(t)

	log := n.log(t)
	without := allowList{exact: map[string]bool{}, clientLo: clientPortLo, clientHi: clientPortHi, self: n.ownPorts()}
	bad, _, _ := without.violations(t, log)
	if bad["AF_INET "+ca.Addr().String()] == 0 {
		t.Fatalf("the check missed the connection to %s: violations %v", ca.Addr(), bad)
	}
	t.Logf("detected: %v", bad)
	// Named in the allow list (as the config names it), it passes.
	with := allowList{exact: map[string]bool{ca.Addr().String(): true}, clientLo: clientPortLo, clientHi: clientPortHi, self: without.self}
	if bad, seen, _ := with.violations(t, log); len(bad) > 0 {
		t.Fatalf("with the CA allowed: violations %v (seen %v)", bad, seen)
	}
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

// TestNoHardcodedHosts is the static half of the check: no string literal
// in non-test Go code names a network host other than loopback or the
// documentation domains (RFC 2606), and no Dial, Listen or HTTP request
// call is given a literal address. A release that phoned home would need
// one of these (or an address assembled to hide it, which review catches).
func TestNoHardcodedHosts(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSpace(string(out))
	files, found := scanForHosts(t, root)
	if files < 50 {
		t.Fatalf("only %d Go files scanned under %s", files, root)
	}
	if len(found) > 0 {
		t.Fatalf("hard-coded network hosts in non-test code:\n%s", strings.Join(found, "\n"))
	}
	t.Logf("%d non-test Go files: no literal hosts beyond loopback and example domains", files)

	// The scan finds what it is for.
	planted := t.TempDir()
	src := "package p\n\nimport (\n\t\"net\"\n\t\"net/http\"\n)\n\n// https://docs.example.com in a comment is fine.\n" +
		"func f() {\n\thttp.Get(\"https://telemetry.vendor.test/ping\")\n\tnet.Dial(\"udp\", \"198.51.100.7:53\")\n" +
		"\t_ = \"stun:stun.l.google.com:19302 stun://stun.vendor.test\"\n\thttp.Get(\"http://127.0.0.1:8080/healthz\")\n}\n"
	if err := os.WriteFile(filepath.Join(planted, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, got := scanForHosts(t, planted)
	joined := strings.Join(got, "\n")
	for _, want := range []string{"telemetry.vendor.test", "198.51.100.7:53", "stun.vendor.test", "stun:stun.l.google.com"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the scan missed %s in a planted file; found:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "127.0.0.1") || strings.Contains(joined, "docs.example.com") {
		t.Errorf("the scan flagged loopback or a comment:\n%s", joined)
	}
}

// scanForHosts parses every non-test Go file under root and returns how
// many it read and the literal hosts it found.
func scanForHosts(t *testing.T, root string) (files int, found []string) {
	t.Helper()
	// ICE server URIs (RFC 7064, RFC 7065) have no "//".
	iceRE := regexp.MustCompile(`(?i)\b(stuns?|turns?):([A-Za-z0-9.-]+)`)
	urlRE := regexp.MustCompile(`(?i)\b(https?|wss?|stuns?|turns?|rediss?|sips?|ftp)://([^/\s"'?#,)]*)`)
	placeholder := regexp.MustCompile(`^[A-Z\[\]:@_]*[A-Z][A-Z\[\]:@_]*$`) // HOST:PORT, [:PASSWORD@]HOST in help texts
	allowedHost := func(h string) bool {
		if placeholder.MatchString(h) {
			return true
		}
		h = strings.ToLower(h)
		if at := strings.LastIndexByte(h, '@'); at >= 0 {
			h = h[at+1:]
		}
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		h = strings.Trim(h, "[]")
		switch {
		case h == "" || strings.ContainsAny(h, "%{$"): // assembled from configuration
			return true
		case h == "localhost" || h == "0.0.0.0" || h == "::" || net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback():
			return true
		case h == "www.w3.org": // the SVG XML namespace name, not a connection
			return true
		}
		for _, doc := range []string{"example.org", "example.com", "example.net", "example"} {
			if h == doc || strings.HasSuffix(h, "."+doc) {
				return true
			}
		}
		return false
	}
	dialers := map[string]bool{"Dial": true, "DialTimeout": true, "DialContext": true, "DialUDP": true, "DialTCP": true,
		"Get": true, "Post": true, "Head": true, "PostForm": true, "NewRequest": true, "NewRequestWithContext": true}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", ".git", "testdata", "vendor", "dist", "out":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(n.Value)
				if err != nil {
					return true
				}
				for _, m := range append(urlRE.FindAllStringSubmatch(s, -1), iceRE.FindAllStringSubmatch(s, -1)...) {
					if !allowedHost(m[2]) {
						found = append(found, fmt.Sprintf("%s: %s", fset.Position(n.Pos()), m[0]))
					}
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || !dialers[sel.Sel.Name] {
					return true
				}
				for _, a := range n.Args {
					lit, ok := a.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					s, _ := strconv.Unquote(lit.Value)
					host := s
					if m := urlRE.FindStringSubmatch(s); m != nil {
						host = m[2]
					} else if !strings.Contains(s, ":") {
						continue // a method name or network ("GET", "tcp")
					}
					if !allowedHost(host) {
						found = append(found, fmt.Sprintf("%s: %s(%q)", fset.Position(n.Pos()), sel.Sel.Name, s))
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, found
}
