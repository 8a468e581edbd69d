package phonetest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Baresip drives a real SIP softphone (Debian's baresip 1.0.0) through its
// ctrl_tcp socket (netstring-framed JSON), with an aufile WAV source and
// the sndfile filter recording what it hears (/work/shared/PLATFORM.md).
type Baresip struct {
	t      *testing.T
	dir    string
	cmd    *exec.Cmd
	conn   net.Conn
	events chan map[string]any
	done   chan struct{}
}

// Config is what the softphone is set up with.
type Config struct {
	// Account is the accounts line's address and parameters, e.g.
	// "<sip:desk1@127.0.0.1>;auth_pass=X;regint=0;audio_codecs=G722/16000/1".
	Account string
	// ToneHz is the tone the phone sends (a 48 kHz WAV source).
	ToneHz float64
	// BurstPeriod, if set, plays the tone in bursts: on for the first
	// half of every period from the start of the call's audio, silent for
	// the second (onsets for latency measurements).
	BurstPeriod time.Duration
}

// WriteToneWAV writes seconds of a sine tone at freq as a mono S16LE WAV.
func WriteToneWAV(path string, rate int, seconds, freq float64) error {
	return writeWAV(path, rate, seconds, freq, 0)
}

func writeWAV(path string, rate int, seconds, freq float64, burst time.Duration) error {
	n := int(float64(rate) * seconds)
	period := int(burst.Seconds() * float64(rate))
	data := make([]byte, 2*n)
	for i := 0; i < n; i++ {
		if period > 0 && i%period >= period/2 {
			continue // silence
		}
		v := int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
		binary.LittleEndian.PutUint16(data[2*i:], uint16(v))
	}
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	return os.WriteFile(path, append(h[:], data...), 0o600)
}

// ReadWAV returns the samples of the first channel and the rate of a PCM
// S16LE WAV file.
func ReadWAV(path string) ([]int16, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("%s: not a WAV file", path)
	}
	var rate, channels int
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		size := int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8:]
		if size > len(body) || id == "data" && size == 0 {
			size = len(body) // a file still being written
		}
		switch id {
		case "fmt ":
			channels = int(binary.LittleEndian.Uint16(body[2:]))
			rate = int(binary.LittleEndian.Uint32(body[4:]))
		case "data":
			if channels == 0 {
				return nil, 0, fmt.Errorf("%s: data before fmt", path)
			}
			var out []int16
			for i := 0; i+2*channels <= size; i += 2 * channels {
				out = append(out, int16(binary.LittleEndian.Uint16(body[i:])))
			}
			return out, rate, nil
		}
		off += 8 + size + size%2
	}
	return nil, 0, fmt.Errorf("%s: no data chunk", path)
}

// Start runs baresip with cfg; it stops when the test ends.
func Start(t *testing.T, cfg Config) *Baresip {
	t.Helper()
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Fatal("baresip is required (Debian package baresip): ", err)
	}
	dir := t.TempDir()
	wav := filepath.Join(dir, "source.wav")
	if err := writeWAV(wav, 48000, 120, cfg.ToneHz, cfg.BurstPeriod); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "rec")
	if err := os.Mkdir(rec, 0o700); err != nil {
		t.Fatal(err)
	}
	// Every port is the kernel's pick (port 0), read back from the running
	// process: a port picked here and bound by baresip later could be taken
	// in between by a parallel test, even by another softphone's control
	// socket.
	conf := strings.Join([]string{
		"poll_method epoll",
		"sip_listen 127.0.0.1:0",
		"sip_trans_bsize 128",
		"net_interface 127.0.0.1",
		"audio_player aufile," + filepath.Join(dir, "nowhere.wav"),
		"audio_source aufile," + wav,
		"audio_alert aufile," + filepath.Join(dir, "nowhere.wav"),
		"ausrc_srate 48000",
		"ausrc_channels 1",
		"auplay_srate 48000",
		"auplay_channels 1",
		"audio_buffer 20-160",
		"rtp_tos 0",
		"jitter_buffer_delay 1-5",
		"module_path /usr/lib/baresip/modules",
		"module aufile.so",
		"module sndfile.so",
		"module g711.so",
		"module g722.so",
		"module opus.so",
		"module srtp.so",
		"module_app account.so",
		"module_app menu.so",
		"module_app ctrl_tcp.so",
		"ctrl_tcp_listen 127.0.0.1:0",
		"snd_path " + rec,
		"opus_stereo no",
		"opus_sprop_stereo no",
		"",
	}, "\n")
	for name, body := range map[string]string{"config": conf, "accounts": cfg.Account + "\n", "contacts": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "baresip", "-f", dir)
	logf, err := os.Create(filepath.Join(dir, "baresip.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Stdin = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &Baresip{t: t, dir: dir, cmd: cmd, events: make(chan map[string]any, 64), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		if b.conn != nil {
			b.conn.Close()
		}
		cancel()
		<-b.done
		logf.Close()
		if t.Failed() {
			out, _ := os.ReadFile(filepath.Join(dir, "baresip.log"))
			t.Logf("baresip log:\n%s", tail(string(out), 4000))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c := findControl(cmd.Process.Pid); c != nil {
			b.conn = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("baresip control socket: not found among its listening sockets")
		}
		select {
		case <-b.done:
			out, _ := os.ReadFile(filepath.Join(dir, "baresip.log"))
			t.Fatalf("baresip exited:\n%s", out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	go b.readEvents()
	return b
}

// findControl returns a connection to the ctrl_tcp socket of baresip
// process pid, or nil if none of its loopback TCP listeners answers a
// control command (yet). Its SIP transports listen too, on ports of their
// own: each listener is asked a harmless command, and only ctrl_tcp answers
// one with a netstring response.
func findControl(pid int) net.Conn {
	ports := listeningTCPPorts(pid)
	found := make(chan net.Conn, len(ports))
	for _, port := range ports {
		go func() {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
			if err != nil {
				found <- nil
				return
			}
			if !answersControl(c) {
				c.Close()
				c = nil
			}
			found <- c
		}()
	}
	for i := range ports {
		if c := <-found; c != nil {
			// The other probes end within their one-second deadline.
			go func() {
				for range len(ports) - i - 1 {
					if c := <-found; c != nil {
						c.Close()
					}
				}
			}()
			return c
		}
	}
	return nil
}

// answersControl sends c the reginfo command and reports whether a ctrl_tcp
// response came back within a second.
func answersControl(c net.Conn) bool {
	const token = "phonetest-probe"
	msg, _ := json.Marshal(map[string]string{"command": "reginfo", "token": token})
	_ = c.SetDeadline(time.Now().Add(time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(c, "%d:%s,", len(msg), msg); err != nil {
		return false
	}
	// One byte at a time: what follows the response is the event reader's.
	r := bufio.NewReaderSize(oneByteReader{c}, 16)
	lenStr, err := r.ReadString(':')
	if err != nil || len(lenStr) > 8 {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(lenStr, ":"))
	if err != nil || n < 0 || n > 1<<16 {
		return false
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return false
	}
	var res struct {
		Response bool   `json:"response"`
		Token    string `json:"token"`
	}
	return json.Unmarshal(buf[:n], &res) == nil && res.Response && res.Token == token
}

// oneByteReader reads at most one byte per call, so that a bufio.Reader on
// it never takes bytes past what its caller consumed.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// listeningTCPPorts lists the IPv4 TCP ports process pid listens on, from
// its socket descriptors and /proc/PID/net/tcp (Linux).
func listeningTCPPorts(pid int) []int {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	var ports []int
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// sl local_address rem_address st ... inode: st 0A is LISTEN.
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
			continue
		}
		if _, hexPort, ok := strings.Cut(f[1], ":"); ok {
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil {
				ports = append(ports, int(p))
			}
		}
	}
	return ports
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// readEvents reads netstrings "LEN:JSON,".
func (b *Baresip) readEvents() {
	r := bufio.NewReader(b.conn)
	defer close(b.events)
	for {
		lenStr, err := r.ReadString(':')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSuffix(lenStr, ":"))
		if err != nil || n < 0 || n > 1<<20 {
			return
		}
		buf := make([]byte, n+1)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(buf[:n], &m) == nil {
			select {
			case b.events <- m:
			default:
			}
		}
	}
}

func (b *Baresip) Command(name, params string) {
	b.t.Helper()
	msg, _ := json.Marshal(map[string]string{"command": name, "params": params, "token": name})
	if _, err := fmt.Fprintf(b.conn, "%d:%s,", len(msg), msg); err != nil {
		b.t.Fatalf("baresip %s: %v", name, err)
	}
}

// WaitEvent waits for a call event of one of the types, failing on a
// deadline.
func (b *Baresip) WaitEvent(timeout time.Duration, types ...string) map[string]any {
	b.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-b.events:
			if !ok {
				b.t.Fatalf("baresip control closed while waiting for %v", types)
			}
			if ev, _ := m["type"].(string); ev != "" {
				for _, t := range types {
					if ev == t {
						return m
					}
				}
			}
		case <-deadline:
			b.t.Fatalf("no baresip event %v within %v", types, timeout)
		}
	}
}

// Recording returns what the phone heard so far.
func (b *Baresip) Recording() ([]int16, int) {
	b.t.Helper()
	files, _ := filepath.Glob(filepath.Join(b.dir, "rec", "*dec*.wav"))
	if len(files) == 0 {
		return nil, 0
	}
	pcm, rate, err := ReadWAV(files[len(files)-1])
	if err != nil {
		b.t.Fatalf("recording: %v", err)
	}
	return pcm, rate
}

// Goertzel returns the normalised power of freq in pcm.
func Goertzel(pcm []int16, freq float64, rate int) float64 {
	if len(pcm) == 0 {
		return 0
	}
	k := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, x := range pcm {
		s := float64(x) + k*s1 - s2
		s2, s1 = s1, s
	}
	return (s1*s1 + s2*s2 - k*s1*s2) / float64(len(pcm)*len(pcm))
}

// ToneSpans returns the 20 ms windows of pcm in which freq dominates
// (its power is above a floor and above each of the other frequencies).
func ToneSpans(pcm []int16, rate int, freq float64, others ...float64) int {
	win := rate / 50
	n := 0
	for i := 0; i+win <= len(pcm); i += win {
		w := pcm[i : i+win]
		p := Goertzel(w, freq, rate)
		if p < 2e5 {
			continue
		}
		ok := true
		for _, o := range others {
			if Goertzel(w, o, rate)*4 > p {
				ok = false
				break
			}
		}
		if ok {
			n++
		}
	}
	return n
}

// SelfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func SelfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
