package signaling

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// TLSConfig makes the public listener (web app, API, /rtc, /e2ee) serve
// HTTPS, with a certificate the admin provides or one obtained by ACME
// (RFC 8555). Both off: plain HTTP, for a node behind a TLS-terminating
// proxy or for local use.
type TLSConfig struct {
	// Cert and Key are PEM files (the certificate chain and its private
	// key). They are read again when they change on disk, so a renewal by
	// certbot or the like needs no restart.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ACMEDomains, when set, has the server obtain and renew a certificate
	// for these names from ACMEDirectory. It is the one outbound connection
	// Conclave makes that is not to Redis or the cluster's nodes, and only
	// when configured. Only these names are ever requested.
	ACMEDomains []string `yaml:"acme_domains"`
	// ACMEEmail is the optional contact given to the ACME CA.
	ACMEEmail string `yaml:"acme_email"`
	// ACMEDirectory is the CA's directory URL.
	ACMEDirectory string `yaml:"acme_directory"`
	// ACMEHTTPListen, e.g. ":80", answers the CA's HTTP-01 challenges there
	// and redirects every other request to https. Empty: only TLS-ALPN-01
	// (RFC 8737), which needs the CA to reach listen on port 443.
	ACMEHTTPListen string `yaml:"acme_http_listen"`
}

// Enabled reports whether the public listener serves HTTPS.
func (t TLSConfig) Enabled() bool { return t.Cert != "" || len(t.ACMEDomains) > 0 }

// acmeCacheDir is the folder under the data folder where the ACME account
// key and the certificates are kept, readable by the owner only.
const acmeCacheDir = "acme"

// dnsName is a lower-case DNS name of at least two labels: what an ACME CA
// issues for with HTTP-01 or TLS-ALPN-01 (no IP addresses, no wildcards).
var dnsName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

func (t TLSConfig) validate() error {
	if (t.Cert == "") != (t.Key == "") {
		return errors.New("config: tls.cert and tls.key go together")
	}
	if t.Cert != "" && len(t.ACMEDomains) > 0 {
		return errors.New("config: tls.cert and tls.acme_domains exclude each other")
	}
	if len(t.ACMEDomains) == 0 {
		if t.ACMEHTTPListen != "" || t.ACMEEmail != "" {
			return errors.New("config: tls.acme_http_listen and tls.acme_email need tls.acme_domains")
		}
		return nil
	}
	seen := map[string]bool{}
	for _, d := range t.ACMEDomains {
		if len(d) > 253 || !dnsName.MatchString(d) {
			return fmt.Errorf("config: tls.acme_domains: %q is not a lower-case DNS name", d)
		}
		if seen[d] {
			return fmt.Errorf("config: tls.acme_domains: %q twice", d)
		}
		seen[d] = true
	}
	if !strings.HasPrefix(t.ACMEDirectory, "https://") {
		return fmt.Errorf("config: tls.acme_directory %q must be an https:// URL", t.ACMEDirectory)
	}
	if t.ACMEEmail != "" && (!strings.Contains(t.ACMEEmail, "@") || strings.ContainsAny(t.ACMEEmail, " \t\r\n")) {
		return fmt.Errorf("config: tls.acme_email %q is not an e-mail address", t.ACMEEmail)
	}
	if t.ACMEHTTPListen != "" {
		if _, _, err := net.SplitHostPort(t.ACMEHTTPListen); err != nil {
			return fmt.Errorf("config: tls.acme_http_listen %q: %w", t.ACMEHTTPListen, err)
		}
	}
	return nil
}

// serverTLS is the TLS side of the public listener.
type serverTLS struct {
	config *tls.Config
	// acme is set when certificates come from ACME; its HTTPHandler answers
	// HTTP-01 challenges.
	acme *autocert.Manager
}

// newServerTLS prepares TLS for cfg: nil when TLS is off. With files, the
// certificate is loaded now, so that a bad file stops the start. With ACME,
// nothing is fetched until the first TLS handshake for a listed name.
func newServerTLS(cfg Config, log *slog.Logger) (*serverTLS, error) {
	t := cfg.TLS
	switch {
	case t.Cert != "":
		r := &certReloader{certFile: t.Cert, keyFile: t.Key, log: log, now: time.Now}
		if err := r.load(); err != nil {
			return nil, err
		}
		return &serverTLS{config: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: r.getCertificate,
		}}, nil
	case len(t.ACMEDomains) > 0:
		m, err := newACMEManager(cfg)
		if err != nil {
			return nil, err
		}
		c := m.TLSConfig() // GetCertificate, and the acme-tls/1 ALPN protocol
		c.MinVersion = tls.VersionTLS12
		return &serverTLS{config: c, acme: m}, nil
	}
	return nil, nil
}

// newACMEManager configures autocert for the listed domains only: a
// handshake naming any other host is refused before the CA is contacted.
// The account key and certificates live in DATA/acme (mode 0700).
func newACMEManager(cfg Config) (*autocert.Manager, error) {
	dir := filepath.Join(cfg.Data, acmeCacheDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls: acme cache: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("tls: acme cache: %w", err)
	}
	if !st.IsDir() || st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("tls: acme cache %s must be a folder only its owner can use (mode %v); run: chmod 700 %s", dir, st.Mode().Perm(), dir)
	}
	return &autocert.Manager{
		// The admin chose the CA by configuring it, and with it its terms.
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(dir),
		HostPolicy: autocert.HostWhitelist(cfg.TLS.ACMEDomains...),
		Email:      cfg.TLS.ACMEEmail,
		Client:     &acme.Client{DirectoryURL: cfg.TLS.ACMEDirectory},
	}, nil
}

// certReloader serves a certificate from files, reading them again when
// their modification time changes (checked at most every reloadEvery). A
// failed reload keeps the previous certificate and is logged.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu       sync.Mutex
	cert     *tls.Certificate
	stamp    string // modification times of both files at the last load
	checked  time.Time
	warnedAt time.Time
}

const reloadEvery = 10 * time.Second

func (r *certReloader) stampNow() (string, error) {
	var parts []string
	for _, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		parts = append(parts, st.ModTime().UTC().Format(time.RFC3339Nano), fmt.Sprint(st.Size()))
	}
	return strings.Join(parts, "|"), nil
}

// load reads both files.
func (r *certReloader) load() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked()
}

func (r *certReloader) reloadLocked() error {
	stamp, err := r.stampNow()
	if err != nil {
		return err
	}
	if keyInfo, err := os.Stat(r.keyFile); err == nil && keyInfo.Mode().Perm()&0o077 != 0 && r.cert == nil {
		// Not fatal: a key shared with a proxy's group is a choice; say so.
		r.log.Warn("tls key file is readable by group or others", "mode", keyInfo.Mode().Perm().String())
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		// The error names the file and the problem, never key bytes.
		return fmt.Errorf("tls: load certificate: %w", err)
	}
	r.cert, r.stamp, r.checked = &c, stamp, r.now()
	return nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.checked) >= reloadEvery {
		r.checked = now
		if stamp, err := r.stampNow(); err != nil || stamp != r.stamp {
			if err == nil {
				err = r.reloadLocked()
			}
			if err != nil && now.Sub(r.warnedAt) >= time.Minute {
				r.warnedAt = now
				r.log.Warn("tls certificate reload failed; serving the previous one", "err", err)
			}
		}
	}
	if r.cert == nil {
		return nil, errors.New("tls: no certificate")
	}
	return r.cert, nil
}
