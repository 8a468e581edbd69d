// Package interop checks that the Go and browser SFrame implementations
// interoperate, and that the browser's SFrame worker round-trips real media:
// it builds the test page and the production worker with esbuild, serves them
// with httptest, and drives headless Chromium with playwright-core
// (web/test/sframe/browser). It needs node, web/node_modules and Chromium
// (/usr/bin/chromium or $CONCLAVE_CHROMIUM); if any is missing the test fails.
package interop

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"conclave/e2ee/sframe"
)

type wireFrame struct {
	Codec string `json:"codec"`
	Plain string `json:"plain"`
	Wire  string `json:"wire"`
}

var codecs = map[string]sframe.Codec{"vp8": sframe.CodecVP8, "opus": sframe.CodecOpus, "h264": sframe.CodecH264, "other": sframe.CodecOther}

// goFrames are plaintext frames shaped like encoder output.
var goFrames = []struct {
	codec string
	frame []byte
}{
	{"vp8", append([]byte{0x50, 0x2d, 0x01, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, bytes.Repeat([]byte{0x11, 0x00, 0x22}, 100)...)},
	{"vp8", append([]byte{0x31}, bytes.Repeat([]byte{0x44, 0x55}, 80)...)},
	{"opus", append([]byte{0x78}, bytes.Repeat([]byte{0x0f}, 60)...)},
	{"h264", append([]byte{0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65, 0x88, 0x80},
		bytes.Repeat([]byte{0, 0, 0, 1, 0, 0, 3}, 30)...)},
	{"other", []byte("any payload at all")},
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = up
	}
}

func need(t *testing.T) (node, root string) {
	t.Helper()
	root = repoRoot(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the browser interop test: install Node 20")
	}
	for _, p := range []string{"esbuild", "playwright-core", "livekit-client"} {
		if _, err := os.Stat(filepath.Join(root, "web", "node_modules", p)); err != nil {
			t.Fatalf("web/node_modules/%s is missing: run npm ci in web/", p)
		}
	}
	chromium := os.Getenv("CONCLAVE_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is required at %s (apt-get install chromium, or set CONCLAVE_CHROMIUM)", chromium)
	}
	return node, root
}

func TestBrowserInterop(t *testing.T) {
	node, root := need(t)
	browserDir := filepath.Join(root, "web", "test", "sframe", "browser")
	out := t.TempDir()
	if b, err := exec.Command(node, filepath.Join(browserDir, "build.mjs"), out).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}

	// One MLS epoch's SFrame keys (RFC 9605, Section 5.2): the base key the
	// exporter gives every member, Go at leaf 2, the browser at leaf 5.
	const epoch, goLeaf, browserLeaf = 5, 2, 5
	baseKey := make([]byte, 16)
	if _, err := rand.Read(baseKey); err != nil {
		t.Fatal(err)
	}
	kid, err := sframe.DefaultKIDLayout.KID(0, goLeaf, epoch)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := sframe.NewSender(sframe.AES128GCMSHA256_128, kid, baseKey)
	if err != nil {
		t.Fatal(err)
	}
	var frames []wireFrame
	for _, f := range goFrames {
		wire, err := sframe.EncryptFrame(sender, codecs[f.codec], nil, f.frame)
		if err != nil {
			t.Fatalf("%s: %v", f.codec, err)
		}
		frames = append(frames, wireFrame{f.codec, base64.StdEncoding.EncodeToString(f.frame), base64.StdEncoding.EncodeToString(wire)})
	}
	receiver, err := sframe.NewMLSReceiver(sframe.AES128GCMSHA256_128, sframe.DefaultKIDLayout, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := receiver.AddEpoch(epoch, fixedExporter(baseKey), time.Now()); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var fromBrowser []string // one line per browser frame: "ok" or why not
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(browserDir, "index.html"))
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /page.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, filepath.Join(out, "page.js")) })
	mux.HandleFunc("GET /worker.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, filepath.Join(out, "worker.js")) })
	mux.HandleFunc("GET /go-frames", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"baseKey": base64.RawURLEncoding.EncodeToString(baseKey), "epoch": epoch, "browserLeaf": browserLeaf, "frames": frames,
		})
	})
	mux.HandleFunc("POST /browser-frames", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Frames []wireFrame }
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, f := range req.Frames {
			fromBrowser = append(fromBrowser, checkBrowserFrame(receiver, f))
		}
		_ = json.NewEncoder(w).Encode(fromBrowser)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cmd := exec.Command(node, filepath.Join(browserDir, "drive.mjs"), srv.URL+"/")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("drive: %v\n%s", err, stdout)
	}
	var got struct {
		Result struct {
			Errors      []string `json:"errors"`
			GoToBrowser struct {
				Total, OK, TamperedRejected int
			} `json:"goToBrowser"`
			Loopback struct {
				Alice               frameStats `json:"alice"`
				Bob, Carol, Mallory linkReport
			} `json:"loopback"`
		} `json:"result"`
		PageErrors []string `json:"pageErrors"`
	}
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("driver output %q: %v", stdout, err)
	}
	r := got.Result
	t.Logf("browser result: %s", strings.TrimSpace(string(stdout)))
	if len(r.Errors) > 0 || len(got.PageErrors) > 0 {
		t.Fatalf("page errors: %v %v", r.Errors, got.PageErrors)
	}

	t.Run("go-to-browser", func(t *testing.T) {
		g := r.GoToBrowser
		if g.Total != len(goFrames) || g.OK != g.Total || g.TamperedRejected != g.Total {
			t.Fatalf("browser decrypted %d/%d Go frames, rejected %d tampered", g.OK, g.Total, g.TamperedRejected)
		}
	})
	t.Run("browser-to-go", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		if len(fromBrowser) != len(goFrames) {
			t.Fatalf("Go got %d browser frames, want %d", len(fromBrowser), len(goFrames))
		}
		for i, res := range fromBrowser {
			if res != "ok" {
				t.Errorf("browser frame %d: %s", i, res)
			}
		}
	})
	t.Run("worker-loopback", func(t *testing.T) {
		l := r.Loopback
		if l.Alice.Encrypted == 0 || l.Alice.EncryptDroppedNoKey != 0 || l.Alice.EncryptDroppedError != 0 {
			t.Errorf("sender worker: %+v", l.Alice)
		}
		for name, rep := range map[string]linkReport{"encoded streams": l.Bob, "script transform": l.Carol} {
			if rep.Stats.Decrypted == 0 || rep.FramesDecoded < 20 || rep.Stats.dropped() != 0 {
				t.Errorf("%s receiver: decrypted %d, video frames decoded %d, dropped %v",
					name, rep.Stats.Decrypted, rep.FramesDecoded, rep.Stats.DecryptDropped)
			}
		}
		if l.Bob.AudioPackets == 0 {
			t.Errorf("no audio reached the encoded-streams receiver")
		}
		m := l.Mallory
		if m.Stats.Decrypted != 0 || m.FramesDecoded != 0 || m.Stats.DecryptDropped["auth"] < 20 {
			t.Errorf("wrong-key receiver: decrypted %d, decoded %d, dropped %v: frames must be dropped, never decoded",
				m.Stats.Decrypted, m.FramesDecoded, m.Stats.DecryptDropped)
		}
	})
}

type frameStats struct {
	Encrypted           int            `json:"encrypted"`
	Decrypted           int            `json:"decrypted"`
	EncryptDroppedNoKey int            `json:"encryptDroppedNoKey"`
	EncryptDroppedError int            `json:"encryptDroppedError"`
	DecryptDropped      map[string]int `json:"decryptDropped"`
}

func (s frameStats) dropped() int {
	n := 0
	for _, v := range s.DecryptDropped {
		n += v
	}
	return n
}

type linkReport struct {
	Stats         frameStats `json:"stats"`
	FramesDecoded int        `json:"framesDecoded"`
	AudioPackets  int        `json:"audioPackets"`
}

// fixedExporter stands for an MLS epoch's exporter: it returns the base key
// for the SFrame label only.
type fixedExporter []byte

func (k fixedExporter) Export(label string, context []byte, length int) ([]byte, error) {
	if label != sframe.BaseKeyLabel || len(context) != 0 || length != len(k) {
		return nil, errors.New("unexpected exporter call")
	}
	return bytes.Clone(k), nil
}

func checkBrowserFrame(r sframe.Decrypter, f wireFrame) string {
	codec, ok := codecs[f.Codec]
	if !ok {
		return "unknown codec " + f.Codec
	}
	plain, err1 := base64.StdEncoding.DecodeString(f.Plain)
	wire, err2 := base64.StdEncoding.DecodeString(f.Wire)
	if err1 != nil || err2 != nil {
		return "bad base64"
	}
	got, err := sframe.DecryptFrame(r, codec, nil, wire)
	if err != nil {
		return f.Codec + ": " + err.Error()
	}
	if !bytes.Equal(got, plain) {
		return f.Codec + ": plaintext differs"
	}
	return "ok"
}
