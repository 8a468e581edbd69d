package signaling

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
)

// assets serves the embedded web app: every file with a strong ETag (the
// files never change within one binary), no-cache so that a new binary's
// app is picked up at once, and gzip for clients that accept it. The MLS
// WASM module is about 8 MB raw and a quarter of that gzipped.
type assets struct {
	fsys fs.FS

	mu    sync.Mutex
	cache map[string]*asset
}

type asset struct {
	raw, gz []byte // gz is nil when compressing does not pay
	etag    string
	ctype   string
}

// minGzip is the size below which compression is not worth a round of CPU.
const minGzip = 1 << 10

func newAssets(fsys fs.FS) *assets {
	return &assets{fsys: fsys, cache: map[string]*asset{}}
}

// get loads name once and keeps it, compressed if that helps.
func (a *assets) get(name string) (*asset, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if x, ok := a.cache[name]; ok {
		return x, nil
	}
	raw, err := fs.ReadFile(a.fsys, name)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	x := &asset{raw: raw, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	x.ctype = mime.TypeByExtension(path.Ext(name))
	if x.ctype == "" {
		x.ctype = http.DetectContentType(raw)
	}
	if len(raw) >= minGzip && compressible(x.ctype) {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if _, err := zw.Write(raw); err != nil {
			return nil, fmt.Errorf("assets: gzip %s: %w", name, err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("assets: gzip %s: %w", name, err)
		}
		if b.Len() < len(raw)*9/10 {
			x.gz = b.Bytes()
		}
	}
	a.cache[name] = x
	return x, nil
}

func compressible(ctype string) bool {
	for _, p := range []string{"text/", "application/javascript", "text/javascript", "application/json", "application/wasm", "image/svg+xml"} {
		if strings.HasPrefix(ctype, p) {
			return true
		}
	}
	return false
}

// serve writes x for r.
func (x *asset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", x.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", x.etag)
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, x.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := x.raw
	if x.gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = x.gz
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
