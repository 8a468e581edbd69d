package itest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

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
