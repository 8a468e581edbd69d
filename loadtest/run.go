package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"conclave/clients/bot"
)

// Keying schemes.
const (
	KeyingMLS   = "mls"
	KeyingBench = "bench"
)

// Options configure one run.
type Options struct {
	// URL is the server: http://HOST:PORT for Conclave, ws:// or http:// for
	// LiveKit. It must be a loopback address.
	URL string
	// Server is ServerConclave or ServerLiveKit.
	Server                    string
	LiveKitKey, LiveKitSecret string
	Scenario                  string
	// Publishers and Subscribers; negative means the scenario's default.
	Publishers, Subscribers int
	// Warmup is waited after everyone joined; Duration is the measured
	// window after it.
	Warmup, Duration time.Duration
	// JoinConcurrency is how many bots join at a time (storms: everyone).
	JoinConcurrency int
	// ServerPID is the server process to read CPU and memory from (0: none).
	ServerPID int
	// Quality is the layer every bot asks for: "low", "medium" or "high"
	// ("" means high).
	Quality string
	// ChurnInterval is the time between replacements in the churn scenario.
	ChurnInterval  time.Duration
	ConnectTimeout time.Duration
	// Keying is how the bots key SFrame: KeyingMLS (Conclave's default: the
	// bots join the meeting's MLS group over /e2ee, as browsers do, which
	// Conclave's media gate requires) or KeyingBench (per-run keys, the only
	// choice for LiveKit, which has no MLS delivery service).
	Keying string
	// Label is free text copied into the report.
	Label string
	// Progress receives a progress line every second; nil for none.
	Progress io.Writer
	// Logger receives the bots' logs; nil discards them.
	Logger *slog.Logger
}

func (o *Options) normalize() (scenario, error) {
	sc, err := lookupScenario(o.Scenario)
	if err != nil {
		return sc, err
	}
	if o.Publishers < 0 {
		o.Publishers = sc.defPublishers
	}
	if o.Subscribers < 0 {
		o.Subscribers = sc.defSubscribers
	}
	switch {
	case o.Publishers+o.Subscribers < 1:
		return sc, errors.New("loadtest: no participants")
	case o.Publishers+o.Subscribers > maxParticipants:
		return sc, fmt.Errorf("loadtest: at most %d participants", maxParticipants)
	case o.Duration <= 0 || o.Duration > maxDuration:
		return sc, fmt.Errorf("loadtest: --duration must be in (0, %v]", maxDuration)
	case o.Warmup < 0 || o.Warmup > maxDuration:
		return sc, errors.New("loadtest: --warmup out of range")
	case sc.churn && o.Publishers+o.Subscribers < 2:
		return sc, errors.New("loadtest: churn needs at least two participants")
	}
	if o.Server == "" {
		o.Server = ServerConclave
	}
	if o.Server != ServerConclave && o.Server != ServerLiveKit {
		return sc, fmt.Errorf("loadtest: --server %q: want conclave or livekit", o.Server)
	}
	switch {
	case o.Keying == "" && o.Server == ServerConclave:
		o.Keying = KeyingMLS
	case o.Keying == "":
		o.Keying = KeyingBench
	case o.Keying != KeyingMLS && o.Keying != KeyingBench:
		return sc, fmt.Errorf("loadtest: --keying %q: want mls or bench", o.Keying)
	case o.Keying == KeyingMLS && o.Server != ServerConclave:
		return sc, errors.New("loadtest: --keying mls needs a Conclave server")
	case o.Keying == KeyingBench && o.Server == ServerConclave:
		// Bench-keyed bots are never admitted: they would join, send, and
		// measure nothing.
		return sc, errors.New("loadtest: --keying bench cannot drive a Conclave server: its media gate forwards media only to and from members of the meeting's MLS group (use --keying mls, the default)")
	}
	if o.JoinConcurrency <= 0 {
		o.JoinConcurrency = 4
	}
	if sc.storm {
		o.JoinConcurrency = o.Publishers + o.Subscribers
	}
	if o.ChurnInterval <= 0 {
		o.ChurnInterval = 2 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := bot.ParseQuality(o.Quality); err != nil {
		return sc, err
	}
	return sc, nil
}

// member is one bot of the run.
type member struct {
	b         *bot.Bot
	publisher bool
	identity  string
	joinedAt  time.Time
	leftAt    time.Time // when the churn made it leave; zero while present
}

// runner holds the state of one run. Only Run's goroutine touches live and
// retired after the join phase.
type runner struct {
	o       Options
	sc      scenario
	api     *webrtc.API
	net     *countingNet
	target  target
	keys    *benchKeys
	quality bot.Layer
	ctx     context.Context

	rateRetries atomic.Int64
	nameSeq     atomic.Int64

	live    []*member
	retired []bot.Report // final reports of bots that left during the window
	// events are the membership changes of the window (churn), whose
	// key-rotation latency the report gives.
	events []memberEvent
}

// Run performs one load test and returns its report. It stops by itself
// after the warm-up and the window, or when ctx is cancelled (then it
// returns ctx's error).
func Run(ctx context.Context, o Options) (*Result, error) {
	sc, err := o.normalize()
	if err != nil {
		return nil, err
	}
	u, err := checkLoopback(ctx, o.URL)
	if err != nil {
		return nil, err
	}
	cn, err := newCountingNet()
	if err != nil {
		return nil, fmt.Errorf("loadtest: network: %w", err)
	}
	se := bot.LoopbackSettings()
	se.SetNet(cn)
	api, err := bot.NewAPI(bot.WithSettingEngine(se))
	if err != nil {
		return nil, err
	}
	keys, err := newBenchKeys()
	if err != nil {
		return nil, err
	}
	q, _ := bot.ParseQuality(o.Quality) // checked by normalize
	r := &runner{o: o, sc: sc, api: api, net: cn, keys: keys, quality: q, ctx: ctx}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	switch o.Server {
	case ServerConclave:
		r.target, err = newConclaveTarget(ctx, u, client)
	default:
		r.target, err = newTokenTarget(u, o.LiveKitKey, o.LiveKitSecret)
	}
	if err != nil {
		return nil, err
	}
	defer r.leaveAll()
	return r.run()
}

func (r *runner) botConfig(publisher bool) bot.Config {
	q := r.quality
	n := r.nameSeq.Add(1)
	cfg := bot.Config{
		API:            r.api,
		Quality:        &q,
		Logger:         r.o.Logger,
		ConnectTimeout: r.o.ConnectTimeout,
		NoAudio:        !publisher || !r.sc.audio,
		NoVideo:        !publisher || !r.sc.video,
	}
	if publisher {
		cfg.Name = fmt.Sprintf("pub-%d", n)
	} else {
		cfg.Name = fmt.Sprintf("sub-%d", n)
	}
	return cfg
}

func (r *runner) join(publisher bool) (*member, error) {
	cfg := r.botConfig(publisher)
	if r.o.Keying == KeyingBench {
		c, err := r.keys.cipher()
		if err != nil {
			return nil, err
		}
		cfg.Cipher = c
	}
	var b *bot.Bot
	err := retryRateLimited(r.ctx, func() error {
		var err error
		b, err = r.target.join(r.ctx, cfg)
		return err
	}, func() { r.rateRetries.Add(1) })
	if err != nil {
		return nil, err
	}
	id, _ := b.Identity()
	return &member{b: b, publisher: publisher, identity: id, joinedAt: time.Now()}, nil
}

// joinAll joins the initial participants, JoinConcurrency at a time,
// publishers first so that subscribers find their tracks.
func (r *runner) joinAll() (failures int, firstErr error) {
	roles := make([]bool, 0, r.o.Publishers+r.o.Subscribers)
	for range r.o.Publishers {
		roles = append(roles, true)
	}
	for range r.o.Subscribers {
		roles = append(roles, false)
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, r.o.JoinConcurrency)
		done int
	)
	stopProgress := r.progressWhile(func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("joining %d/%d (%d failed)", done, len(roles), failures)
	})
	defer stopProgress()
	for _, pub := range roles {
		select {
		case sem <- struct{}{}:
		case <-r.ctx.Done():
		}
		if r.ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m, err := r.join(pub)
			mu.Lock()
			defer mu.Unlock()
			done++
			if err != nil {
				failures++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			r.live = append(r.live, m)
		}()
	}
	wg.Wait()
	return failures, firstErr
}

// progressWhile prints line() every second on o.Progress until the
// returned function is called.
func (r *runner) progressWhile(line func() string) (stop func()) {
	if r.o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(r.o.Progress, "loadtest %s/%s: %s\n", r.o.Server, r.sc.name, line())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// counters are the bots' cumulative receive counters at one instant.
type counters struct {
	packets, decrypted, lost, failures uint64
	held, heldDropped                  uint64
	keyframes, keyframeReqs            uint64
	layers                             [3]uint64
}

func (r *runner) snapshot() (counters, []bot.Report) {
	var c counters
	reps := make([]bot.Report, 0, len(r.live)+len(r.retired))
	for _, m := range r.live {
		reps = append(reps, m.b.Report())
	}
	reps = append(reps, r.retired...)
	for i := range reps {
		c.packets += reps[i].PacketsReceived
		c.decrypted += reps[i].FramesDecrypted
		c.lost += reps[i].FramesLost
		c.failures += reps[i].DecryptFailures
		c.held += reps[i].FramesHeld
		c.heldDropped += reps[i].FramesHeldDropped
		c.keyframes += reps[i].KeyframesSent
		c.keyframeReqs += reps[i].KeyframeReqs
		for _, t := range reps[i].Tracks {
			for q, n := range t.LayerFrames {
				c.layers[q] += n
			}
		}
	}
	return c, reps
}

func (r *runner) readServer() (procSample, bool) {
	if r.o.ServerPID <= 0 {
		return procSample{at: time.Now()}, false
	}
	s, err := readProc(r.o.ServerPID)
	if err != nil {
		r.o.Logger.Warn("loadtest: server process", "err", err)
		return procSample{at: time.Now()}, false
	}
	return s, true
}

func (r *runner) run() (*Result, error) {
	res := &Result{
		Server: r.o.Server, Label: r.o.Label, Scenario: r.sc.name, Started: time.Now().UTC(), Keying: r.o.Keying,
		Publishers: r.o.Publishers, Subscribers: r.o.Subscribers,
		Participants: r.o.Publishers + r.o.Subscribers,
		WarmupS:      r.o.Warmup.Seconds(),
	}
	base, haveBase := r.readServer()
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	g0 := runtime.NumGoroutine()

	joinStart := time.Now()
	failures, firstErr := r.joinAll()
	res.JoinSpanMS = msOf(time.Since(joinStart))
	res.JoinFailures = failures
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	if len(r.live) == 0 {
		return nil, fmt.Errorf("loadtest: no participant could join: %w", firstErr)
	}
	if firstErr != nil {
		fmt.Fprintf(progressOr(r.o.Progress), "loadtest: %d joins failed, first: %v\n", failures, firstErr)
	}
	runtime.GC()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	n := float64(len(r.live))
	res.LoadGenGoroutinesPerBot = float64(runtime.NumGoroutine()-g0) / n
	res.LoadGenHeapPerBotBytes = (float64(ms1.HeapInuse+ms1.StackInuse) - float64(ms0.HeapInuse+ms0.StackInuse)) / n

	if !r.wait(r.o.Warmup, "warm-up") {
		return nil, r.ctx.Err()
	}

	// The window.
	for _, m := range r.live {
		m.b.ResetLatency()
	}
	stable := make(map[*member]bool, len(r.live))
	for _, m := range r.live {
		stable[m] = true
	}
	c0, _ := r.snapshot()
	s0, haveCPU := r.readServer()
	net0 := r.net.bytes.Load()
	self0 := selfCPU()

	var churnJoinFirst []float64
	var churnJoined []*member
	if !r.window(res, &churnJoined, stable) {
		return nil, r.ctx.Err()
	}

	c1, reps := r.snapshot()
	s1, _ := r.readServer()
	net1 := r.net.bytes.Load()
	self1 := selfCPU()
	win := s1.at.Sub(s0.at)
	res.WindowS = win.Seconds()

	pk := c1.packets - c0.packets
	res.ForwardedPackets = pk
	res.ForwardedPacketsPerSecond = float64(pk) / win.Seconds()
	res.ForwardedBitsPerSecond = float64(net1-net0) * 8 / win.Seconds()
	if haveCPU {
		cpu := (s1.cpu - s0.cpu).Seconds()
		res.ServerCPUSeconds = cpu
		res.ServerCPUCores = cpu / win.Seconds()
		if cpu > 0 {
			res.ForwardedPacketsPerCPUSecond = float64(pk) / cpu
		}
		user := (s1.user - s0.user).Seconds()
		res.ServerUserCPUSeconds = user
		if user > 0 {
			res.ForwardedPacketsPerUserCPUSecond = float64(pk) / user
		}
		if pk > 0 {
			res.CPUSecondsPerMillionPackets = cpu / float64(pk) * 1e6
		}
		res.ServerRSSBytes = s1.rss
		if haveBase {
			res.ServerRSSBaselineBytes = base.rss
		}
		res.RSSPerParticipantBytes = float64(int64(s1.rss)-int64(base.rss)) / float64(len(r.live))
	}
	res.LoadGenCPUCores = (self1 - self0).Seconds() / win.Seconds()
	res.LoadAverage = loadAverage()
	res.FramesDecrypted = c1.decrypted - c0.decrypted
	res.FramesLost = c1.lost - c0.lost
	if t := res.FramesDecrypted + res.FramesLost; t > 0 {
		res.LossRatio = float64(res.FramesLost) / float64(t)
	}
	res.DecryptFailures = c1.failures // over the whole run: any is a bug
	res.FramesHeld, res.FramesHeldDropped = c1.held, c1.heldDropped
	res.KeyframesSent = c1.keyframes - c0.keyframes
	res.KeyframeRequests = c1.keyframeReqs - c0.keyframeReqs
	if r.o.Keying == KeyingMLS {
		res.KeyRotationMS, res.KeyRotationByEventMS, res.KeyRotationPending = keyRotation(r.events)
	}
	for q := range res.VideoFramesByLayer {
		res.VideoFramesByLayer[q] = c1.layers[q] - c0.layers[q]
	}

	var lat bot.Report
	var connect, first []float64
	for i := range reps {
		lat.MergeLatency(&reps[i])
	}
	for _, m := range r.live {
		if slices.Contains(churnJoined, m) {
			continue
		}
		rep := m.b.Report()
		connect = append(connect, rep.ConnectMS)
		if rep.JoinToFirstFrameMS > 0 {
			first = append(first, rep.JoinToFirstFrameMS)
		} else if r.o.Publishers > 1 || !m.publisher {
			res.BotsWithoutFrames++
		}
	}
	for _, m := range churnJoined {
		if rep := m.b.Report(); rep.JoinToFirstFrameMS > 0 {
			churnJoinFirst = append(churnJoinFirst, rep.JoinToFirstFrameMS)
		}
	}
	res.P50LatencyMS = msOf(lat.Latency(0.50))
	res.P95LatencyMS = msOf(lat.Latency(0.95))
	res.P99LatencyMS = msOf(lat.Latency(0.99))
	res.MaxLatencyMS = msOf(lat.Latency(1))
	res.ConnectP50MS = quantile(connect, 0.5)
	res.ConnectMaxMS = quantile(connect, 1)
	res.JoinToFirstFrameMS = quantile(first, 0.5)
	res.JoinToFirstFrameP95 = quantile(first, 0.95)
	res.JoinToFirstFrameMax = quantile(first, 1)
	res.ChurnJoinToFirstP50MS = quantile(churnJoinFirst, 0.5)
	res.RateLimitedRetries = int(r.rateRetries.Load())
	res.MissingStreams = r.missingStreams(stable)
	return res, nil
}

// wait sleeps d while printing progress; false if ctx ended.
func (r *runner) wait(d time.Duration, what string) bool {
	if d <= 0 {
		return r.ctx.Err() == nil
	}
	end := time.Now().Add(d)
	stop := r.progressWhile(func() string {
		return fmt.Sprintf("%d joined, %s %.0fs left", len(r.live), what, time.Until(end).Seconds())
	})
	defer stop()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// window runs the measured window: a progress line every second and, in
// the churn scenario, one replacement per churn interval.
func (r *runner) window(res *Result, churnJoined *[]*member, stable map[*member]bool) bool {
	start := time.Now()
	end := start.Add(r.o.Duration)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var churn <-chan time.Time
	if r.sc.churn {
		ct := time.NewTicker(r.o.ChurnInterval)
		defer ct.Stop()
		churn = ct.C
	}
	deadline := time.NewTimer(r.o.Duration)
	defer deadline.Stop()
	prev, _ := r.snapshot()
	prevCPU, haveCPU := r.readServer()
	victim := 0
	for {
		select {
		case <-r.ctx.Done():
			return false
		case <-deadline.C:
			return true
		case <-churn:
			if len(r.live) == 0 {
				continue
			}
			victim = (victim + 1) % len(r.live)
			m := r.live[victim]
			others := slices.Delete(slices.Clone(r.live), victim, victim+1)
			ev := memberEvent{kind: eventLeave, identity: m.identity, at: time.Now(), receivers: others}
			// Alternate between a graceful leave and a vanishing
			// participant (a crashed tab), whom the server must time out.
			if res.ChurnLeaves%2 == 0 {
				m.b.Leave()
			} else {
				ev.kind = eventVanish
				m.b.Close()
			}
			m.leftAt = ev.at
			r.events = append(r.events, ev)
			res.ChurnLeaves++
			r.retired = append(r.retired, m.b.Report())
			r.live = slices.Delete(r.live, victim, victim+1)
			delete(stable, m)
			joinAt := time.Now()
			nm, err := r.join(m.publisher)
			if err != nil {
				res.ChurnJoinFailures++
				r.o.Logger.Warn("loadtest: churn join failed", "err", err)
				continue
			}
			res.ChurnJoins++
			r.events = append(r.events, memberEvent{kind: eventJoin, identity: nm.identity, at: joinAt, joiner: nm, receivers: slices.Clone(r.live)})
			r.live = append(r.live, nm)
			*churnJoined = append(*churnJoined, nm)
		case now := <-tick.C:
			if r.o.Progress == nil {
				continue
			}
			cur, _ := r.snapshot()
			line := fmt.Sprintf("%d in room, %.0fs/%.0fs, %.0f pkt/s forwarded, loss %d frames, decrypt failures %d, held for their key %d",
				len(r.live), now.Sub(start).Seconds(), end.Sub(start).Seconds(),
				float64(cur.packets-prev.packets), cur.lost, cur.failures, cur.held)
			if haveCPU {
				if s, ok := r.readServer(); ok {
					line += fmt.Sprintf(", server %.2f CPU, RSS %.0f MiB",
						(s.cpu-prevCPU.cpu).Seconds()/s.at.Sub(prevCPU.at).Seconds(), float64(s.rss)/(1<<20))
					prevCPU = s
				}
			}
			prev = cur
			fmt.Fprintf(r.o.Progress, "loadtest %s/%s: %s\n", r.o.Server, r.sc.name, line)
		}
	}
}

// missingStreams counts, among participants present for the whole window,
// the (receiver, publisher, kind) triples where the receiver got no frame
// in the last two seconds.
func (r *runner) missingStreams(stable map[*member]bool) int {
	missing := 0
	for _, rx := range r.live {
		if !stable[rx] {
			continue
		}
		rep := rx.b.Report()
		got := map[[2]string]bool{}
		for _, t := range rep.Tracks {
			if t.FramesDecrypted > 0 && t.LastFrameAgoMS < 2000 {
				got[[2]string{t.Participant, t.Kind}] = true
			}
		}
		for _, tx := range r.live {
			if tx == rx || !tx.publisher || !stable[tx] {
				continue
			}
			if r.sc.audio && !got[[2]string{tx.identity, bot.KindAudio.String()}] {
				missing++
			}
			if r.sc.video && !got[[2]string{tx.identity, bot.KindVideo.String()}] {
				missing++
			}
		}
	}
	return missing
}

// leaveAll makes every bot leave, a few at a time.
func (r *runner) leaveAll() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, m := range r.live {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m.b.Leave()
		}()
	}
	wg.Wait()
	r.live = nil
}

func progressOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func msOf(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000
}

// quantile returns the q-quantile (nearest rank) of xs, 0 if empty.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	i = max(0, min(i, len(s)-1))
	return s[i]
}
