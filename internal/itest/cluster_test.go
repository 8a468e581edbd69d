package itest

// The cluster test runs three `conclave serve` processes (this test binary,
// re-executed through servetest.NodeCommand) on one redis-server, with bots
// in three meetings spread over them, kills one node with SIGKILL, and
// measures how long its bots take to be back in their meeting, on another
// node, receiving each other's media and decrypting it. The other meetings
// must not notice.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"conclave/clients/bot"
	"conclave/internal/servetest"
	"conclave/sfu"
	"conclave/signaling"
	"conclave/signaling/cluster/redistest"
	"conclave/signaling/ds"
	"conclave/signaling/rtc"
	"conclave/signaling/token"
)

// TestMain makes the test binary a cluster node when TestClusterFailover's
// servetest.NodeCommand starts it.
func TestMain(m *testing.M) {
	if code, ok := servetest.RunNode(signaling.App{Version: "itest", NewRTC: loopbackMedia}); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// loopbackMedia is the media plane of a test node, built as the conclave
// command builds it (SFU, /rtc, and the /e2ee delivery service as the media
// gate), on loopback without TURN.
func loopbackMedia(cfg signaling.Config, verify *token.Verifier, _ *token.Issuer, _ func(), log *slog.Logger) (signaling.RTCHandler, signaling.MediaInfo, error) {
	scfg := sfu.DefaultConfig()
	scfg.ListenIP = "127.0.0.1"
	scfg.IncludeLoopback = true
	scfg.UDPPort = 0
	scfg.TCPPort = -1
	scfg.TURN.Enabled = false
	engine, err := sfu.NewEngine(scfg, log)
	if err != nil {
		return nil, signaling.MediaInfo{}, err
	}
	check := func(tok string) (*token.Claims, error) { return verify.Verify(tok, time.Now()) }
	dsKey, err := ds.LoadOrCreateKey(cfg.Data)
	if err != nil {
		engine.Close()
		return nil, signaling.MediaInfo{}, err
	}
	var h *rtc.Handler
	dsrv, err := ds.New(ds.Config{OnAdmission: func(room, identity string) { h.Readmit(room, identity) }}, dsKey, check, log)
	if err != nil {
		engine.Close()
		return nil, signaling.MediaInfo{}, err
	}
	h = rtc.NewHandler(rtc.Config{Gate: dsrv}, check, engine, log)
	return &testMedia{Handler: h, engine: engine, ds: dsrv}, signaling.MediaInfo{UDPPort: engine.UDPPort()}, nil
}

type testMedia struct {
	*rtc.Handler
	engine *sfu.Engine
	ds     *ds.Server
}

// E2EE is the delivery service that signaling.NewServer mounts at /e2ee.
func (m *testMedia) E2EE() http.Handler { return m.ds }

func (m *testMedia) Shutdown(ctx context.Context) error {
	err := m.ds.Shutdown(ctx)
	if rerr := m.Handler.Shutdown(ctx); err == nil {
		err = rerr
	}
	m.engine.Close()
	return err
}

type clusterNode struct {
	*servetest.Node
	id string
}

func startClusterNode(t *testing.T, id, redisURL, tokenKey string) *clusterNode {
	t.Helper()
	dir, cfgFile := servetest.NodeDir(t, tokenKey, servetest.NoJoinLimit)
	args := []string{"--config", cfgFile, "--listen", "127.0.0.1:0", "--data", dir, "--redis", redisURL,
		"--node-id", id, "--udp-port", "0", "--tcp-port", "-1", "--no-turn", "--no-link"}
	n := servetest.Start(t, servetest.NodeCommand(args...), servetest.Options{})
	return &clusterNode{Node: n, id: id}
}

// joinAnswerURL asks base which node runs room.
func joinAnswerURL(t *testing.T, base, room string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"room": room, "name": "probe", "kind": "bot"})
	resp, err := http.Post(base+"/api/join", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var a struct{ URL string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &a) != nil {
		t.Fatalf("join probe: %d %s", resp.StatusCode, body)
	}
	return a.URL
}

// clusterMember is a node of a test cluster, a process that serves at
// baseURL.
type clusterMember interface {
	comparable
	baseURL() string
}

func (n *clusterNode) baseURL() string { return n.URL }

// nodeAt returns the node of nodes whose /rtc URL is ws, the URL a join
// answer names.
func nodeAt[N clusterMember](nodes []N, ws string) (N, bool) {
	for _, n := range nodes {
		if "ws://"+strings.TrimPrefix(n.baseURL(), "http://") == ws {
			return n, true
		}
	}
	var none N
	return none, false
}

// spreadMeeting is a meeting of two bots on one node of a cluster.
type spreadMeeting[N clusterMember] struct {
	link, room string
	node       N
	bots       []*bot.Bot
}

// spreadMeetings creates count meetings through nodes[0] and joins two bots
// (named m<meeting>-b<bot>, configured by cfg) to each through its link,
// then asks nodes[1] which node runs each: placement spreads the meetings
// over the nodes.
func spreadMeetings[N clusterMember](t *testing.T, nodes []N, count int, cfg func(name string) bot.Config) []*spreadMeeting[N] {
	t.Helper()
	front := &server{t: t, base: nodes[0].baseURL()}
	var meetings []*spreadMeeting[N]
	for i := range count {
		m := &spreadMeeting[N]{link: front.newMeeting()}
		m.room = strings.SplitN(strings.TrimPrefix(m.link, front.base+"/m/"), "#", 2)[0]
		for j := range 2 {
			b, err := bot.Join(context.Background(), m.link, cfg(fmt.Sprintf("m%d-b%d", i, j)))
			if err != nil {
				t.Fatalf("meeting %d bot %d: %v", i, j, err)
			}
			t.Cleanup(b.Close)
			m.bots = append(m.bots, b)
		}
		var ok bool
		if m.node, ok = nodeAt(nodes, joinAnswerURL(t, nodes[1].baseURL(), m.room)); !ok {
			t.Fatalf("meeting %d: the join answer names no node of the cluster", i)
		}
		meetings = append(meetings, m)
	}
	return meetings
}

// rejoin joins as many new bots as m had (named rejoin-b<bot>) through m's
// link, as the web app does when its node is gone: each keeps trying, for up
// to within, while /api/join still names the dead node.
func (m *spreadMeeting[N]) rejoin(t *testing.T, within time.Duration, cfg func(name string) bot.Config) []*bot.Bot {
	t.Helper()
	var back []*bot.Bot
	for j := range m.bots {
		deadline := time.Now().Add(within)
		for {
			b, err := bot.Join(context.Background(), m.link, cfg(fmt.Sprintf("rejoin-b%d", j)))
			if err == nil {
				t.Cleanup(b.Close)
				back = append(back, b)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rejoin after the node died: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return back
}

func TestClusterFailover(t *testing.T) {
	srv := redistest.Start(t)
	const key = "6974657374206f6e6c793a20636c75737465722d7769646520746f6b656e206b"
	nodes := []*clusterNode{
		startClusterNode(t, "n1", srv.URL(), key),
		startClusterNode(t, "n2", srv.URL(), key),
		startClusterNode(t, "n3", srv.URL(), key),
	}
	api, err := bot.NewAPI(bot.WithSettingEngine(bot.LoopbackSettings()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(name string) bot.Config {
		return bot.Config{Name: name, API: api, Logger: testLogger(t).With("bot", name), ConnectTimeout: 15 * time.Second, ResumeAttempts: 2}
	}
	// Three meetings, created through n1 and joined through it: placement
	// puts one on each node.
	meetings := spreadMeetings(t, nodes, 3, cfg)
	seen := map[*clusterNode]bool{}
	for _, m := range meetings {
		seen[m.node] = true
	}
	if len(seen) != 3 {
		t.Fatal("the three meetings were not spread over the three nodes")
	}
	var all []*bot.Bot
	for _, m := range meetings {
		all = append(all, m.bots...)
	}
	for _, m := range meetings {
		waitFor(t, 20*time.Second, "decrypted media in meeting on "+m.node.id, allReceive(50, 30, m.bots...), all...)
	}

	// n3's process dies.
	var victim *spreadMeeting[*clusterNode]
	for _, m := range meetings {
		if m.node.id == "n3" {
			victim = m
		}
	}
	before := map[*bot.Bot]uint64{}
	for _, b := range all {
		before[b] = b.Report().FramesDecrypted
	}
	killed := time.Now()
	if err := victim.node.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.node.Exited()

	// Its bots lose the node; like the web app, they join again through the
	// link, and keep trying while /api/join still names the dead node.
	for _, b := range victim.bots {
		select {
		case <-b.Done():
		case <-time.After(20 * time.Second):
			t.Fatal("a bot of the dead node did not notice")
		}
	}
	noticed := time.Since(killed)
	back := victim.rejoin(t, 20*time.Second, cfg)
	waitFor(t, 20*time.Second, "decrypted media after rejoining", allReceive(25, 15, back...), back...)
	recovered := time.Since(killed)
	// They are one MLS group again: same epoch and security code.
	waitFor(t, 10*time.Second, "one MLS epoch and security code after rejoining", func() bool {
		r0, r1 := back[0].Report(), back[1].Report()
		return r0.SecurityCode != "" && r0.Epoch == r1.Epoch && r0.SecurityCode == r1.SecurityCode
	}, back...)
	newNode, ok := nodeAt(nodes, joinAnswerURL(t, nodes[0].URL, victim.room))
	if !ok || newNode.id == "n3" {
		t.Fatalf("meeting still placed on the dead node")
	}
	t.Logf("SIGKILL of n3: bots noticed after %v; back in their meeting on %s with decrypted audio and video after %v (heartbeat 1s, dead_after 3s)",
		noticed.Round(10*time.Millisecond), newNode.id, recovered.Round(10*time.Millisecond))

	// Nothing else was disturbed: the other meetings' bots never dropped and
	// kept decrypting, without failures.
	for _, m := range meetings {
		if m == victim {
			continue
		}
		for _, b := range m.bots {
			select {
			case <-b.Done():
				t.Fatalf("bot %s on %s dropped: %v", identity(b), m.node.id, b.Err())
			default:
			}
			r := b.Report()
			if r.FramesDecrypted <= before[b] || r.DecryptFailures != 0 {
				t.Fatalf("bot %s on %s: decrypted %d -> %d, %d failures", identity(b), m.node.id, before[b], r.FramesDecrypted, r.DecryptFailures)
			}
		}
	}
}
