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
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"conclave/clients/bot"
	"conclave/internal/servetest"
	"conclave/signaling/cluster/redistest"
)

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

	// n1 has the admin API; its API key is made with the CLI beforehand.
	var nodes []*tracedNode
	var adminKey string
	for i := range 3 {
		id := fmt.Sprintf("n%d", i+1)
		dir, cfgFile := servetest.NodeDir(t, hex.EncodeToString(tokenKey[:]), servetest.NoJoinLimit)
		// Every node serves /metrics on its admin listener; n1's admin API
		// is the one the test acts through.
		args := []string{"--config", cfgFile, "--listen", "127.0.0.1:0", "--redis", rds.URL(), "--node-id", id,
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
	meetings := spreadMeetings(t, nodes, 2, botCfg)
	for _, m := range meetings {
		waitFor(t, 30*time.Second, "decrypted media on "+m.node.id, allReceive(25, 10, m.bots...), m.bots...)
	}
	// The media plane's and the delivery service's metrics on the nodes
	// that run the meetings.
	for _, m := range meetings {
		got := scrape(t, m.node.AdminURL)
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
	adminCall(t, nodes[0].AdminURL, adminKey, "GET", "/admin/v1/meetings", &ms)
	if len(ms.Meetings) != 2 {
		t.Fatalf("admin sees %d meetings, want 2", len(ms.Meetings))
	}
	adminCall(t, nodes[0].AdminURL, adminKey, "GET", "/admin/v1/nodes", nil)
	var spare *tracedNode
	for _, n := range nodes {
		if n != meetings[0].node && n != meetings[1].node {
			spare = n
		}
	}
	adminCall(t, nodes[0].AdminURL, adminKey, "POST", "/admin/v1/nodes/"+spare.id+"/drain", nil)
	adminCall(t, nodes[0].AdminURL, adminKey, "POST", "/admin/v1/nodes/"+spare.id+"/undrain", nil)
	adminCall(t, nodes[0].AdminURL, adminKey, "GET", "/admin/v1/audit/verify", nil)
	metrics, err := http.Get(nodes[0].AdminURL + "/metrics")
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
	<-victim.node.Exited()
	back := victim.rejoin(t, 30*time.Second, botCfg)
	waitFor(t, 30*time.Second, "decrypted media after failover", allReceive(25, 10, back...), back...)
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
	adminCall(t, nodes[0].AdminURL, adminKey, "POST", "/admin/v1/meetings/"+otherKey+"/end", nil)
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
	dir, cfgFile := servetest.NodeDir(t, "", fmt.Sprintf("tls:\n  acme_domains: [meet.example.org]\n  acme_directory: https://%s/directory\n", ca.Addr()))
	n := startTraced(t, bin, "acme", dir, "--config", cfgFile, "--listen", "127.0.0.1:0",
		"--udp-port", "0", "--tcp-port", "-1", "--no-turn")
	// A TLS handshake naming the domain makes the node ask its CA.
	addr := strings.TrimPrefix(n.URL, "https://meet.example.org:")
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
