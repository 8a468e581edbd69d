package signaling

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"conclave/signaling/token"
)

// e2eeRTC is an RTCHandler that also carries the /e2ee handler, as the media
// plane of `conclave serve` does.
type e2eeRTC struct{ e2ee http.Handler }

func (e2eeRTC) ServeHTTP(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }
func (e2eeRTC) Shutdown(context.Context) error                   { return nil }
func (r e2eeRTC) E2EE() http.Handler                             { return r.e2ee }

func TestE2EEMount(t *testing.T) {
	ds := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	tests := []struct {
		name   string
		opts   func(*Options)
		method string
		want   int
	}{
		{"none", func(*Options) {}, http.MethodGet, http.StatusServiceUnavailable},
		{"option", func(o *Options) { o.E2EE = ds }, http.MethodGet, http.StatusAccepted},
		{"from the media plane", func(o *Options) { o.RTC = e2eeRTC{e2ee: ds} }, http.MethodGet, http.StatusAccepted},
		{"POST", func(o *Options) { o.E2EE = ds }, http.MethodPost, http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			cfg := DefaultConfig()
			cfg.Listen = "127.0.0.1:9999"
			o := Options{Config: cfg, Store: st, Issuer: token.NewIssuer("conclave", testSecret)}
			tc.opts(&o)
			srv, err := NewServer(o)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest(tc.method, "/e2ee?access_token=x", nil))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}
