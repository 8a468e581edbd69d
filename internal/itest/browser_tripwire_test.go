package itest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"conclave/e2ee/dsproto"
	"conclave/e2ee/mls"
	"conclave/e2ee/sframe"
)

// Issue 7, "The tripwire of issue E2EE meetings holds with browsers
// publishing": two Chromium pages (the real web app, its SFrame worker keyed
// from MLS) meet on the in-process server while the SFU and the delivery
// service hooks see every byte the server handles.

// Payload types the SFU negotiates for Opus and VP8 (sfu/engine.go); the
// third, VP8's RTX, reaches the SFU's readers unwrapped by pion.
const (
	ptOpus = 111
	ptVP8  = 96
)

// vp8StartCode is the key-frame start code (RFC 6386, Section 9.1).
var vp8StartCode = []byte{0x9d, 0x01, 0x2a}

// browserPrereqs returns node's path and the web folder, failing (never
// skipping) if Chromium, node or web/node_modules is missing.
func browserPrereqs(t *testing.T) (node, webDir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing (Node 20 runs the browser driver): %v", err)
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("chromium is missing (apt-get install chromium, or make test which installs it): %v", err)
	}
	webDir, err = filepath.Abs(filepath.Join("..", "..", "web"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(webDir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("web/node_modules is missing (cd web && npm ci): %v", err)
	}
	return node, webDir
}

// vp8Descriptor returns the length of the VP8 RTP payload descriptor at the
// start of p and whether the packet starts a frame (S=1, PID=0), per RFC
// 7741, Section 4.2.
func vp8Descriptor(p []byte) (n int, frameStart bool, err error) {
	if len(p) < 1 {
		return 0, false, errors.New("empty VP8 payload")
	}
	n = 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return 0, false, errors.New("truncated VP8 descriptor")
		}
		x := p[1]
		n = 2
		if x&0x80 != 0 { // I: PictureID, 7 or 15 bits
			if len(p) < n+1 {
				return 0, false, errors.New("truncated PictureID")
			}
			if p[n]&0x80 != 0 {
				n++
			}
			n++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			n++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX
			n++
		}
	}
	if n >= len(p) {
		return 0, false, errors.New("VP8 descriptor without payload")
	}
	return n, p[0]&0x10 != 0 && p[0]&0x07 == 0, nil
}

// sframeCheck says what is wrong with the SFrame header at the start of b
// (after the clear prefix), or "" if its KID is a context-0 KID of a leaf
// in leaves with epoch bits in epochs. It returns the header's length and KID.
func sframeCheck(b []byte, leaves map[uint32]bool, epochs map[uint64]bool) (int, sframe.Header, string) {
	h, n, err := sframe.ParseHeader(b)
	if err != nil {
		return 0, h, fmt.Sprintf("no SFrame header: %v", err)
	}
	ctx, leaf, ep := sframe.DefaultKIDLayout.Split(h.KID)
	switch {
	case ctx != 0:
		return n, h, fmt.Sprintf("KID %d has context %d", h.KID, ctx)
	case !leaves[leaf]:
		return n, h, fmt.Sprintf("KID %d names leaf %d, not a member's", h.KID, leaf)
	case !epochs[ep]:
		return n, h, fmt.Sprintf("KID %d has epoch bits %d, not of an epoch the group had", h.KID, ep)
	case len(b) == n:
		return n, h, "SFrame header without ciphertext"
	}
	return n, h, ""
}

// TestBrowserTripwire: two Chromium pages join a meeting, publish camera and
// microphone and chat. The delivery service never handles the chat's marker
// (which the other page shows); every Opus packet and every VP8 frame start
// the SFU receives carries exactly the declared clear prefix, then an SFrame
// header whose KID names a member's leaf and an epoch the group had
// (THREAT_MODEL.md, "Clear bytes in media frames"), and no VP8 frame carries
// a whole plaintext key frame after its SFrame header.
func TestBrowserTripwire(t *testing.T) {
	node, webDir := browserPrereqs(t)
	s := startWebServer(t)

	mark := make([]byte, 12)
	if _, err := rand.Read(mark); err != nil {
		t.Fatal(err)
	}
	marker := "tripwire-" + hex.EncodeToString(mark)
	chat := "hello from the page " + marker

	// Delivery service: scan for the marker, and learn the members' leaves
	// (GroupCreated is leaf 0, Joined names its leaf) and the epochs.
	dsWire := &tripwire{name: "delivery service"}
	var dsMarkerHits int
	var mu sync.Mutex
	leaves := map[uint32]bool{}
	var maxEpoch uint64
	noteEpoch := func(e uint64) { maxEpoch = max(maxEpoch, e) }
	s.ds.Observe(func(direction string, b []byte) {
		dsWire.scan(direction, b)
		msg, err := dsproto.Unmarshal(b)
		mu.Lock()
		defer mu.Unlock()
		if bytes.Contains(b, []byte(marker)) {
			dsMarkerHits++
		}
		if err != nil || direction != "in" {
			return
		}
		switch m := msg.(type) {
		case *dsproto.GroupCreated:
			leaves[0] = true
			noteEpoch(m.Epoch)
		case *dsproto.Joined:
			leaves[m.Leaf] = true
			noteEpoch(m.Epoch)
		case *dsproto.Commit:
			if info, err := mls.InspectMessage(m.Commit); err == nil {
				noteEpoch(info.Epoch + 1)
			}
		}
	})
	defer s.ds.Observe(nil)

	// SFU: keep a copy of every packet, checked once the pages are gone.
	var packets [][]byte
	var sfuMarkerHits int
	obs := func(_ string, b []byte) {
		mu.Lock()
		defer mu.Unlock()
		packets = append(packets, bytes.Clone(b))
		if bytes.Contains(b, []byte(marker)) {
			sfuMarkerHits++
		}
	}
	s.sfuObserve.Store(&obs)

	link := s.newMeeting()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("..", "internal", "itest", "testdata", "drive-pages.mjs"))
	cmd.Dir = webDir
	cmd.Env = append(os.Environ(), "CONCLAVE_LINK="+link, "CONCLAVE_CHAT="+chat, "CONCLAVE_PUBLISH_MS=8000")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Chromium, node's child, could hold the output pipes after node is
	// killed: stop waiting for them then.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("pages ran for %v", time.Since(start).Round(100*time.Millisecond))
	if runErr != nil {
		t.Fatalf("drive-pages.mjs: %v\nstdout:\n%s\nstderr:\n%s", runErr, stdout.String(), stderr.String())
	}
	var result struct {
		ChatDelivered bool              `json:"chatDelivered"`
		Stats         []json.RawMessage `json:"stats"`
		Timings       json.RawMessage   `json:"timings"`
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &result); err != nil || !result.ChatDelivered {
		t.Fatalf("drive-pages.mjs reported %q (%v); stderr:\n%s", stdout.String(), err, stderr.String())
	}
	t.Logf("pages' SFrame worker stats: %s; timings %s", result.Stats, result.Timings)
	s.sfuObserve.Store(nil)
	s.ds.Observe(nil)

	mu.Lock()
	defer mu.Unlock()
	// (a) The chat travelled (the other page showed it) and the DS never
	// handled its plaintext; nor did the SFU.
	dsWire.check(t)
	if dsMarkerHits != 0 || sfuMarkerHits != 0 {
		t.Errorf("the chat marker was in %d delivery-service messages and %d RTP packets", dsMarkerHits, sfuMarkerHits)
	}
	if len(leaves) != 2 {
		t.Fatalf("delivery service saw members at leaves %v, want two pages", leaves)
	}
	epochs := map[uint64]bool{}
	for e := uint64(0); e <= maxEpoch; e++ {
		_, _, bits := sframe.DefaultKIDLayout.Split(sframe.KeyID(e))
		epochs[bits] = true
	}

	// (b) Clear prefix, then an SFrame header of a member, in every Opus
	// packet and every VP8 frame start; (c) no plaintext key frame after it.
	v := judgeMedia(packets, leaves, epochs)
	n := v.counts
	t.Logf("SFU saw %d packets: %d Opus, %d VP8 frame starts (%d key frames), %d VP8 continuations, %d padding, %d repaired with payload type 0 (checked as VP8); leaves %v, epochs 0..%d",
		len(packets), n.opus, n.vp8Starts, n.vp8Key, n.vp8Cont, n.padding, n.pt0, leaves, maxEpoch)
	// Ciphertext holds 9d 01 2a by chance about once per 2^24 bytes, so a
	// few hits anywhere are expected: logged as a figure, not asserted (the
	// positional check in judgeMedia is).
	t.Logf("start code anywhere in %d ciphertext bytes: %d times (%.2f expected by chance)",
		v.scannedBytes, v.startCodesAnywhere, float64(v.scannedBytes)/(1<<24))
	if len(v.bad) > 0 {
		t.Errorf("packets that break the clear-bytes rule:\n%s", strings.Join(v.bad, "\n"))
	}
	// Not vacuous: both pages published both kinds for seconds.
	const minOpus, minVP8Starts, minKey = 400, 200, 2
	if n.opus < minOpus || n.vp8Starts < minVP8Starts || n.vp8Key < minKey {
		t.Errorf("too little media to judge: %d Opus packets (want ≥ %d), %d VP8 frame starts (want ≥ %d), %d key frames (want ≥ %d)",
			n.opus, minOpus, n.vp8Starts, minVP8Starts, n.vp8Key, minKey)
	}
	for leaf := range leaves {
		if !v.opusLeaves[leaf] || !v.vp8Leaves[leaf] {
			t.Errorf("leaf %d: Opus %v, VP8 %v; want both pages to publish both", leaf, v.opusLeaves[leaf], v.vp8Leaves[leaf])
		}
	}
}

// mediaVerdict is what judgeMedia found in the packets the SFU received.
type mediaVerdict struct {
	counts struct{ opus, vp8Starts, vp8Key, vp8Cont, padding, pt0 int }
	// Leaves whose KIDs were seen on well-formed packets.
	opusLeaves, vp8Leaves map[uint32]bool
	// bad lists (the first few) packets that break the clear-bytes rule.
	bad []string
	// startCodesAnywhere counts VP8 key-frame start codes in scannedBytes
	// bytes of ciphertext: a figure, since ciphertext holds any 3 bytes by
	// chance once per 2^24 positions.
	startCodesAnywhere, scannedBytes int
}

// judgeMedia checks RTP packets (as the SFU received them, after SRTP)
// against THREAT_MODEL.md, "Clear bytes in media frames": every Opus packet
// is its TOC byte then an SFrame header; every VP8 packet that starts a
// frame is its payload descriptor, exactly the clear prefix
// sframe.ClearPrefixLen names (a key frame's being a VP8 key frame header),
// then an SFrame header, and no whole plaintext key frame right after that
// header (its start code at ciphertext offset 3, which ciphertext has by
// chance once in 2^24 frames). Each SFrame header's KID must name a leaf of
// leaves and epoch bits of epochs. Other payload types are refused.
func judgeMedia(packets [][]byte, leaves map[uint32]bool, epochs map[uint64]bool) mediaVerdict {
	v := mediaVerdict{opusLeaves: map[uint32]bool{}, vp8Leaves: map[uint32]bool{}}
	n := &v.counts
	report := func(format string, args ...any) {
		if len(v.bad) < 10 {
			v.bad = append(v.bad, fmt.Sprintf(format, args...))
		} else if len(v.bad) == 10 {
			v.bad = append(v.bad, "…")
		}
	}
	// pion hands the SFU retransmissions it unwrapped from RTX (RFC 4588)
	// with the track's payload type and SSRC, which are still 0 for a
	// simulcast layer whose first packet has not been read.
	ssrcPT := map[uint32]uint8{}
	for _, b := range packets {
		var h rtp.Header
		if _, err := h.Unmarshal(b); err == nil && (h.PayloadType == ptOpus || h.PayloadType == ptVP8) {
			ssrcPT[h.SSRC] = h.PayloadType
		}
	}
	for i, b := range packets {
		var p rtp.Packet
		if err := p.Unmarshal(b); err != nil {
			report("packet %d: not RTP: %v", i, err)
			continue
		}
		if len(p.Payload) == 0 {
			n.padding++
			continue
		}
		pt := p.PayloadType
		if pt == 0 {
			// Only VP8 has RTX (sfu/engine.go), so a repaired packet is
			// VP8, unless its SSRC is known to carry something else.
			n.pt0++
			pt = ptVP8
			if known, ok := ssrcPT[p.SSRC]; ok {
				pt = known
			}
		}
		switch pt {
		case ptOpus:
			n.opus++
			// RFC 6716, Section 3.1: the TOC byte is the whole clear prefix.
			_, h, why := sframeCheck(p.Payload[sframe.OpusClearBytes:], leaves, epochs)
			if why != "" {
				report("opus packet %d (ssrc %x seq %d): %s", i, p.SSRC, p.SequenceNumber, why)
				continue
			}
			_, leaf, _ := sframe.DefaultKIDLayout.Split(h.KID)
			v.opusLeaves[leaf] = true
		case ptVP8:
			d, start, err := vp8Descriptor(p.Payload)
			if err != nil {
				report("vp8 packet %d: %v", i, err)
				continue
			}
			frame := p.Payload[d:]
			if !start {
				// The middle of an encrypted frame: ciphertext only.
				n.vp8Cont++
				v.scannedBytes += len(frame)
				v.startCodesAnywhere += bytes.Count(frame, vp8StartCode)
				continue
			}
			n.vp8Starts++
			clear, err := sframe.ClearPrefixLen(sframe.CodecVP8, frame)
			if err != nil {
				report("vp8 frame start %d: %v", i, err)
				continue
			}
			if clear == sframe.VP8KeyFrameClearBytes {
				n.vp8Key++
				// The clear prefix of a key frame is a VP8 key frame header.
				if !bytes.Equal(frame[3:6], vp8StartCode) {
					report("vp8 key frame %d: bytes 3-5 are %x, not the start code", i, frame[3:6])
				}
			}
			hl, h, why := sframeCheck(frame[clear:], leaves, epochs)
			if why != "" {
				report("vp8 frame start %d (ssrc %x seq %d, %d clear bytes): %s", i, p.SSRC, p.SequenceNumber, clear, why)
				continue
			}
			_, leaf, _ := sframe.DefaultKIDLayout.Split(h.KID)
			v.vp8Leaves[leaf] = true
			ct := frame[clear+hl:]
			if len(ct) >= 6 && bytes.Equal(ct[3:6], vp8StartCode) {
				report("vp8 frame start %d: a plaintext key frame's start code right after the SFrame header", i)
			}
			v.scannedBytes += len(ct)
			v.startCodesAnywhere += bytes.Count(ct, vp8StartCode)
		default:
			report("packet %d: payload type %d is not one the browsers send in the clear-bytes rule: %x", i, p.PayloadType, b[:min(len(b), 40)])
		}
	}
	return v
}

// TestJudgeMedia shows that TestBrowserTripwire's packet checks fail on
// plaintext and on frames keyed outside the group: each case adds one packet
// to well-formed encrypted media, which alone passes.
func TestJudgeMedia(t *testing.T) {
	leaves, epochs := map[uint32]bool{0: true, 1: true}, map[uint64]bool{0: true, 1: true}
	baseKey := bytes.Repeat([]byte{7}, 16)
	sender := func(t *testing.T, leaf uint32, epoch uint64) *sframe.Sender {
		kid, err := sframe.DefaultKIDLayout.KID(0, leaf, epoch)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sframe.NewSender(sframe.AES128GCMSHA256_128, kid, baseKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var seq uint16
	packet := func(t *testing.T, pt uint8, ssrc uint32, payload []byte) []byte {
		seq++
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, SSRC: ssrc}, Payload: payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// A VP8 key frame: frame tag (key-frame bit 0), start code, 640x480,
	// then data; an interframe; an Opus packet (TOC 0x78, then data).
	keyFrame := append([]byte{0x50, 0x2f, 0x01, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, bytes.Repeat([]byte{0xff, 0x13}, 200)...)
	interFrame := append([]byte{0x31}, bytes.Repeat([]byte{0xfe, 0x44}, 100)...)
	opusFrame := append([]byte{0x78}, bytes.Repeat([]byte{0xfb, 0x21}, 40)...)
	vp8Start := func(frame []byte) []byte { return append([]byte{0x10}, frame...) } // S=1, PID=0
	encrypt := func(t *testing.T, s *sframe.Sender, codec sframe.Codec, frame []byte) []byte {
		w, err := sframe.EncryptFrame(s, codec, nil, frame)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	a, b := sender(t, 0, 1), sender(t, 1, 1)
	good := func(t *testing.T) [][]byte {
		var ps [][]byte
		for _, s := range []*sframe.Sender{a, b} {
			ps = append(ps,
				packet(t, ptVP8, 1, vp8Start(encrypt(t, s, sframe.CodecVP8, keyFrame))),
				packet(t, ptVP8, 1, vp8Start(encrypt(t, s, sframe.CodecVP8, interFrame))),
				packet(t, ptVP8, 1, []byte{0x00, 0xaa, 0xbb}), // a continuation
				packet(t, ptOpus, 2, encrypt(t, s, sframe.CodecOpus, opusFrame)),
			)
		}
		return ps
	}
	if v := judgeMedia(good(t), leaves, epochs); len(v.bad) != 0 || len(v.opusLeaves) != 2 || len(v.vp8Leaves) != 2 || v.counts.vp8Key != 2 {
		t.Fatalf("well-formed media judged %+v", v)
	}
	// A plaintext key frame wrapped after a valid header: prefix || header || frame.
	h := sframe.Header{KID: a.KID(), CTR: 99}
	wrapped := append(h.AppendTo(append([]byte{}, keyFrame[:10]...)), keyFrame...)
	for _, c := range []struct {
		name   string
		packet func(t *testing.T) []byte
	}{
		{"plaintext VP8 key frame", func(t *testing.T) []byte { return packet(t, ptVP8, 1, vp8Start(keyFrame)) }},
		{"plaintext VP8 interframe", func(t *testing.T) []byte { return packet(t, ptVP8, 1, vp8Start(interFrame)) }},
		{"plaintext Opus", func(t *testing.T) []byte { return packet(t, ptOpus, 2, opusFrame) }},
		{"key frame without its start code", func(t *testing.T) []byte {
			w := encrypt(t, a, sframe.CodecVP8, keyFrame)
			w[4] ^= 1
			return packet(t, ptVP8, 1, vp8Start(w))
		}},
		{"plaintext key frame after the header", func(t *testing.T) []byte { return packet(t, ptVP8, 1, vp8Start(wrapped)) }},
		{"VP8 from a leaf outside the group", func(t *testing.T) []byte {
			return packet(t, ptVP8, 1, vp8Start(encrypt(t, sender(t, 5, 1), sframe.CodecVP8, interFrame)))
		}},
		{"Opus under an epoch the group never had", func(t *testing.T) []byte {
			return packet(t, ptOpus, 2, encrypt(t, sender(t, 0, 9), sframe.CodecOpus, opusFrame))
		}},
		{"an unnegotiated payload type", func(t *testing.T) []byte { return packet(t, 100, 3, opusFrame) }},
		{"plaintext VP8 retransmission with payload type 0", func(t *testing.T) []byte { return packet(t, 0, 0, vp8Start(interFrame)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := judgeMedia(append(good(t), c.packet(t)), leaves, epochs)
			if len(v.bad) != 1 {
				t.Fatalf("judged %d packets bad (%q), want the one added", len(v.bad), v.bad)
			}
			t.Log(v.bad[0])
		})
	}
}
