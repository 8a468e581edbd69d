package signaling

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and its
// key to dir and returns the paths and the parsed certificate.
func selfSigned(t *testing.T, dir, name string, serial int64) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "conclave test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

var runningURL = regexp.MustCompile(`is running at (\S+)`)

// serveInProcess runs `conclave serve` (without media) with args and
// returns its base URL; the server stops when the test ends.
func serveInProcess(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Command(ctx, App{Version: "test"}, append([]string{"--no-link", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, args...), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := runningURL.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case u := <-urls:
		return u
	case err := <-done:
		t.Fatalf("serve exited: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	return ""
}

// TestServeTLSWithCertificateFiles runs serve with --tls-cert/--tls-key and
// talks to it with a crypto/tls client that trusts only that certificate.
func TestServeTLSWithCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, dir, "a", 1)
	base := serveInProcess(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("base URL %q is not https", base)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || !resp.TLS.HandshakeComplete {
		t.Fatalf("GET /healthz: %d, tls %v", resp.StatusCode, resp.TLS)
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 1 {
		t.Fatalf("served certificate serial %d, want 1", got)
	}
	if resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("TLS version %x", resp.TLS.Version)
	}

	// A client that does not trust the certificate refuses the server.
	strict := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	if _, err := strict.Get(base + "/healthz"); err == nil {
		t.Fatal("a client without the certificate in its pool connected")
	} else if !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Fatalf("untrusted certificate: unexpected error %v", err)
	}
	// Plain HTTP on the TLS port gets no answer from the app.
	plain, err := http.Get("http://" + strings.TrimPrefix(base, "https://") + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served on the TLS listener")
		}
	}
}

func TestServeTLSRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, _, _ := selfSigned(t, dir, "a", 1)
	_, otherKey, _ := selfSigned(t, dir, "b", 2)
	cases := []struct {
		name string
		args []string
	}{
		{"mismatched key", []string{"--tls-cert", certFile, "--tls-key", otherKey}},
		{"missing file", []string{"--tls-cert", filepath.Join(dir, "nope.crt"), "--tls-key", otherKey}},
		{"cert without key", []string{"--tls-cert", certFile}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"--no-link", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, c.args...)
			if err := Command(context.Background(), App{}, args, io.Discard, io.Discard); err == nil {
				t.Fatal("serve started")
			}
		})
	}
}

// TestCertReloader: a renewed certificate on disk is served without a
// restart; a broken renewal keeps the previous one.
func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir, "live", 1)
	now := time.Now()
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: discardLogger(), now: func() time.Time { return now }}
	if err := r.load(); err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		t.Helper()
		c, err := r.getCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		x, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return x.SerialNumber.Int64()
	}
	if s := serial(); s != 1 {
		t.Fatalf("serial %d", s)
	}
	// Renewal: new files replace the old ones (as certbot's symlinks do).
	newCert, newKey, _ := selfSigned(t, dir, "renewed", 2)
	for _, p := range [][2]string{{newCert, certFile}, {newKey, keyFile}} {
		if err := os.Rename(p[0], p[1]); err != nil {
			t.Fatal(err)
		}
		future := now.Add(time.Minute)
		if err := os.Chtimes(p[1], future, future); err != nil {
			t.Fatal(err)
		}
	}
	if s := serial(); s != 1 {
		t.Fatalf("reloaded before the check interval: serial %d", s)
	}
	now = now.Add(reloadEvery)
	if s := serial(); s != 2 {
		t.Fatalf("after renewal: serial %d, want 2", s)
	}
	// A broken write keeps the last good certificate.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	now = now.Add(reloadEvery)
	if s := serial(); s != 2 {
		t.Fatalf("after a broken renewal: serial %d, want 2 (kept)", s)
	}
}

// TestACMEConfigured checks the ACME path without reaching a real CA: the
// manager is built with a whitelist of the configured names, its cache in
// DATA/acme with mode 0700, the configured directory URL, and the
// acme-tls/1 protocol; a handshake for an unlisted name fails without any
// request to the CA, and one for a listed name goes to the configured CA
// (here a loopback stand-in that answers 404).
func TestACMEConfigured(t *testing.T) {
	var caHits atomic.Int64
	ca := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caHits.Add(1)
		http.NotFound(w, r)
	}))
	defer ca.Close()

	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.TLS.ACMEDomains = []string{"meet.example.org", "node1.meet.example.org"}
	cfg.TLS.ACMEEmail = "ops@example.org"
	cfg.TLS.ACMEDirectory = ca.URL + "/directory"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.BaseURL(); got != "https://meet.example.org:8080" {
		t.Fatalf("BaseURL %q", got)
	}
	side, err := newServerTLS(cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	m := side.acme
	if m == nil {
		t.Fatal("no autocert.Manager with acme_domains set")
	}
	st, err := os.Stat(filepath.Join(cfg.Data, "acme"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("acme cache folder: %v mode %v", err, st.Mode().Perm())
	}
	if dc, ok := m.Cache.(autocert.DirCache); !ok || string(dc) != filepath.Join(cfg.Data, "acme") {
		t.Fatalf("cache %#v", m.Cache)
	}
	if m.Client == nil || m.Client.DirectoryURL != cfg.TLS.ACMEDirectory || m.Email != "ops@example.org" {
		t.Fatalf("client %+v email %q", m.Client, m.Email)
	}
	for host, want := range map[string]bool{
		"meet.example.org": true, "node1.meet.example.org": true,
		"evil.example.org": false, "example.org": false, "meet.example.org.evil.test": false,
	} {
		if err := m.HostPolicy(context.Background(), host); (err == nil) != want {
			t.Errorf("host policy %q: err %v, want allowed %v", host, err, want)
		}
	}
	if !slices.Contains(side.config.NextProtos, acme.ALPNProto) || side.config.MinVersion < tls.VersionTLS12 {
		t.Fatalf("tls config: protos %v min %x", side.config.NextProtos, side.config.MinVersion)
	}

	m.Client.HTTPClient = ca.Client()
	hello := func(name string) error {
		_, err := side.config.GetCertificate(&tls.ClientHelloInfo{ServerName: name, SupportedVersions: []uint16{tls.VersionTLS13}})
		return err
	}
	if err := hello("evil.example.org"); err == nil {
		t.Fatal("certificate for an unlisted name")
	}
	if n := caHits.Load(); n != 0 {
		t.Fatalf("the CA was contacted %d times for an unlisted name", n)
	}
	if err := hello("meet.example.org"); err == nil {
		t.Fatal("certificate from a CA that answers 404")
	}
	if caHits.Load() == 0 {
		t.Fatal("a listed name did not go to the configured CA")
	}
}

func TestTLSConfigValidation(t *testing.T) {
	cases := []struct {
		name string
		tls  TLSConfig
		ok   bool
	}{
		{"off", TLSConfig{ACMEDirectory: acme.LetsEncryptURL}, true},
		{"files", TLSConfig{Cert: "c", Key: "k"}, true},
		{"acme", TLSConfig{ACMEDomains: []string{"meet.example.org"}, ACMEDirectory: acme.LetsEncryptURL, ACMEHTTPListen: ":80"}, true},
		{"cert without key", TLSConfig{Cert: "c"}, false},
		{"key without cert", TLSConfig{Key: "k"}, false},
		{"files and acme", TLSConfig{Cert: "c", Key: "k", ACMEDomains: []string{"meet.example.org"}, ACMEDirectory: acme.LetsEncryptURL}, false},
		{"wildcard", TLSConfig{ACMEDomains: []string{"*.example.org"}, ACMEDirectory: acme.LetsEncryptURL}, false},
		{"ip address", TLSConfig{ACMEDomains: []string{"192.0.2.1"}, ACMEDirectory: acme.LetsEncryptURL}, false},
		{"upper case", TLSConfig{ACMEDomains: []string{"Meet.example.org"}, ACMEDirectory: acme.LetsEncryptURL}, false},
		{"single label", TLSConfig{ACMEDomains: []string{"localhost"}, ACMEDirectory: acme.LetsEncryptURL}, false},
		{"duplicate", TLSConfig{ACMEDomains: []string{"a.example.org", "a.example.org"}, ACMEDirectory: acme.LetsEncryptURL}, false},
		{"http directory", TLSConfig{ACMEDomains: []string{"meet.example.org"}, ACMEDirectory: "http://ca.example.org/dir"}, false},
		{"bad email", TLSConfig{ACMEDomains: []string{"meet.example.org"}, ACMEDirectory: acme.LetsEncryptURL, ACMEEmail: "nobody"}, false},
		{"bad http listen", TLSConfig{ACMEDomains: []string{"meet.example.org"}, ACMEDirectory: acme.LetsEncryptURL, ACMEHTTPListen: "80"}, false},
		{"http listen without acme", TLSConfig{ACMEHTTPListen: ":80", ACMEDirectory: acme.LetsEncryptURL}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.TLS = c.tls
			if err := cfg.Validate(); (err == nil) != c.ok {
				t.Fatalf("Validate: %v, want ok %v", err, c.ok)
			}
		})
	}
	cfg := DefaultConfig()
	cfg.TLS = TLSConfig{Cert: "c", Key: "k"}
	if got := cfg.BaseURL(); got != "https://127.0.0.1:8080" {
		t.Fatalf("BaseURL with TLS files: %q", got)
	}
}

// TestACMECacheModeRefused: a cache folder others can read is refused.
func TestACMECacheModeRefused(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.TLS.ACMEDomains = []string{"meet.example.org"}
	if err := os.Mkdir(filepath.Join(cfg.Data, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(cfg.Data, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := newServerTLS(cfg, discardLogger()); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Fatalf("world-readable acme cache: %v", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
