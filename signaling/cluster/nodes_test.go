package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"conclave/internal/servetest"
	"conclave/signaling"
	"conclave/signaling/admin"
	"conclave/signaling/cluster/redistest"
)

// The test binary doubles as `conclave serve` (without web app or media)
// when servetest.NodeCommand starts it, so that the cluster test can start
// real processes and kill one with SIGKILL.
func TestMain(m *testing.M) {
	if code, ok := servetest.RunNode(signaling.App{Version: "test"}); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// node is one `conclave serve` process.
type node struct {
	*servetest.Node
	id, dir string
}

const testTokenKey = "6c6f6f706261636b2d6f6e6c792d746573742d6b65792d333262797465732121"

func startServe(t *testing.T, id, redisURL string) *node {
	t.Helper()
	dir, cfgFile := servetest.NodeDir(t, testTokenKey, servetest.NoJoinLimit)
	args := []string{"--config", cfgFile, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--data", dir, "--redis", redisURL, "--node-id", id, "--no-link", "--log-level", "debug", "--log-format", "json"}
	n := servetest.Start(t, servetest.NodeCommand(args...), servetest.Options{Admin: true})
	return &node{Node: n, id: id, dir: dir}
}

func call(t *testing.T, method, url, bearer string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type joinAnswer struct {
	URL  string `json:"url"`
	Room string `json:"room"`
}

func join(t *testing.T, via *node, room, name string) joinAnswer {
	t.Helper()
	code, b := call(t, "POST", via.URL+"/api/join", "", map[string]string{"room": room, "name": name, "kind": "bot"})
	if code != 200 {
		t.Fatalf("join via %s: %d %s", via.id, code, b)
	}
	var a joinAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestThreeNodeCluster runs three serve processes on one redis-server:
// meetings spread over the nodes and every node answers a join with the
// meeting's node; the admin API drains a node; a node killed with SIGKILL is
// noticed and its meetings are placed again, without disturbing the others.
func TestThreeNodeCluster(t *testing.T) {
	srv := redistest.Start(t)
	nodes := []*node{startServe(t, "n1", srv.URL()), startServe(t, "n2", srv.URL()), startServe(t, "n3", srv.URL())}
	byWS := map[string]*node{}
	for _, n := range nodes {
		byWS["ws://"+strings.TrimPrefix(n.URL, "http://")] = n
	}
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]

	// An API key for n1's admin API, made with the CLI on n1's data folder.
	var out bytes.Buffer
	if err := admin.Command(context.Background(), []string{"create-key", "--data", n1.dir, "--scopes", "all", "--ttl", "1h", "--label", "test"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`ck_\S+`).FindString(out.String())

	// Meetings created on one node are known to all (the store is Redis).
	var rooms []string
	for range 6 {
		code, b := call(t, "POST", n1.URL+"/api/meetings", "", nil)
		if code != 201 {
			t.Fatalf("create: %d %s", code, b)
		}
		var r struct{ Room string }
		json.Unmarshal(b, &r)
		rooms = append(rooms, r.Room)
	}
	names := []string{"Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth"}
	where := map[string]*node{} // room ID -> node
	perNode := map[string]int{}
	for i, room := range rooms {
		a := join(t, nodes[i%3], room, names[i])
		n := byWS[a.URL]
		if n == nil {
			t.Fatalf("join answer names %q, not a node", a.URL)
		}
		where[room] = n
		perNode[n.id]++
	}
	if perNode["n1"] != 2 || perNode["n2"] != 2 || perNode["n3"] != 2 {
		t.Fatalf("meetings per node %v, want 2 each", perNode)
	}
	for i, room := range rooms {
		for _, via := range nodes {
			if a := join(t, via, room, names[i]); byWS[a.URL] != where[room] {
				t.Fatalf("room %d: %s answers %s, first answer was %s", i, via.id, a.URL, where[room].id)
			}
		}
	}

	code, b := call(t, "GET", n1.AdminURL+"/admin/v1/nodes", key, nil)
	if code != 200 || strings.Count(string(b), `"id"`) != 3 {
		t.Fatalf("nodes: %d %s", code, b)
	}

	// Drain n2 through n1's admin API.
	if code, b := call(t, "POST", n1.AdminURL+"/admin/v1/nodes/n2/drain", key, nil); code != 200 {
		t.Fatalf("drain: %d %s", code, b)
	}
	for range 4 {
		_, b := call(t, "POST", n2.URL+"/api/meetings", "", nil)
		var r struct{ Room string }
		json.Unmarshal(b, &r)
		if a := join(t, n2, r.Room, "Newcomer"); byWS[a.URL] == n2 {
			t.Fatal("a draining node got a new meeting")
		}
	}
	for room, n := range where {
		if n == n2 {
			if a := join(t, n1, room, "Late"); byWS[a.URL] != n2 {
				t.Fatalf("a meeting of the draining node moved to %s", a.URL)
			}
		}
	}

	// n3 dies without a word.
	var onN3 []string
	for room, n := range where {
		if n == n3 {
			onN3 = append(onN3, room)
		}
	}
	killed := time.Now()
	if err := n3.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-n3.Exited()
	deadline := killed.Add(15 * time.Second)
	for {
		moved := 0
		for _, room := range onN3 {
			if byWS[join(t, n1, room, "Probe").URL] == n1 {
				moved++
			}
		}
		if moved == len(onN3) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("meetings of the dead node not placed again after 15s (%d of %d)", moved, len(onN3))
		}
		time.Sleep(50 * time.Millisecond)
	}
	replaced := time.Since(killed)
	t.Logf("node killed with SIGKILL; its %d meetings answered with the new node after %v (heartbeat 1s, dead_after 3s)",
		len(onN3), replaced.Round(10*time.Millisecond))
	for room, n := range where {
		if n == n3 {
			continue
		}
		if a := join(t, n2, room, "Check"); byWS[a.URL] != n {
			t.Fatalf("a meeting of live node %s moved to %s", n.id, a.URL)
		}
	}
	code, b = call(t, "GET", n1.AdminURL+"/admin/v1/nodes", key, nil)
	if code != 200 || strings.Count(string(b), `"id"`) != 2 || strings.Contains(string(b), `"n3"`) {
		t.Fatalf("nodes after the kill: %d %s", code, b)
	}
	// n1's next heartbeat updates its metrics.
	for metricsDeadline := time.Now().Add(5 * time.Second); ; {
		code, b = call(t, "GET", n1.AdminURL+"/metrics", "", nil)
		if code == 200 && strings.Contains(string(b), "conclave_cluster_nodes 2") {
			break
		}
		if time.Now().After(metricsDeadline) {
			t.Fatalf("metrics: %d, cluster size not updated", code)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Clean shutdowns: n1 and n2 leave; their processes exit 0.
	for _, n := range []*node{n1, n2} {
		n.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.Exited():
			if err := n.WaitErr(); err != nil {
				t.Fatalf("node %s: %v\n%s", n.id, err, n.Stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("node %s did not stop", n.id)
		}
	}

	// The audit log on n1 recorded the drain, and its chain holds.
	out.Reset()
	if err := admin.Command(context.Background(), []string{"audit", "list", "--data", n1.dir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "node.drain\tn2\t127.0.0.1\tok") {
		t.Fatalf("audit log:\n%s", out.String())
	}
	if err := admin.Command(context.Background(), []string{"audit", "verify", "--data", n1.dir}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}

	// Logs are JSON lines, and no node logged a room ID, a display name, the
	// token key or the API key.
	for _, n := range nodes {
		logs := n.Stderr.String()
		for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] == nil || rec["level"] == nil {
				t.Fatalf("node %s: log line is not a JSON record: %q", n.id, line)
			}
		}
		if !strings.Contains(logs, "join token issued") {
			t.Fatalf("node %s logged no joins; the check below would prove nothing", n.id)
		}
		secrets := append(append([]string{testTokenKey, key}, rooms...), names...)
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				t.Fatalf("node %s logged %q", n.id, s)
			}
		}
	}
}
