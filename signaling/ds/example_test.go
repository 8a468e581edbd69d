package ds_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"conclave/sfu"
	"conclave/signaling"
	"conclave/signaling/ds"
	"conclave/signaling/rtc"
	"conclave/signaling/token"
)

// Example wires the delivery service into a server the way `conclave serve`
// does (media.go), with the tripwire hooks a full-meeting test uses: every
// /e2ee message and every RTP packet the server handles passes through
// scan, which looks for the plaintext marker the bots put in every frame
// and chat message.
func Example() {
	dataDir, secret := "/tmp/conclave-example", bytes.Repeat([]byte{1}, 32)
	verifier := token.NewVerifier("conclave", secret)
	verify := func(tok string) (*token.Claims, error) { return verifier.Verify(tok, time.Now()) }
	log := slog.New(slog.DiscardHandler)

	marker := []byte("TRIPWIRE")
	var mu sync.Mutex
	var seen []string
	scan := func(direction string, b []byte) {
		if bytes.Contains(b, marker) {
			mu.Lock()
			seen = append(seen, direction) // the test fails if seen is not empty
			mu.Unlock()
		}
	}

	key, err := ds.LoadOrCreateKey(dataDir) // data/ds.key, mode 0600
	if err != nil {
		return
	}
	var rtcHandler *rtc.Handler
	dsrv, err := ds.New(ds.Config{
		// The media gate: re-evaluate a participant's subscriptions when it
		// joins the MLS group or is removed from it.
		OnAdmission: func(room, identity string) { rtcHandler.Readmit(room, identity) },
	}, key, verify, log)
	if err != nil {
		return
	}
	dsrv.Observe(scan) // every /e2ee message, "in" and "out"

	scfg := sfu.DefaultConfig()
	scfg.Observe = scan // every RTP packet received, "rtp-in"
	engine, err := sfu.NewEngine(scfg, log)
	if err != nil {
		return
	}
	defer engine.Close()
	rtcHandler = rtc.NewHandler(rtc.Config{Gate: dsrv}, verify, engine, log)

	// signaling.Options.E2EE mounts the DS at GET /e2ee.
	_ = signaling.Options{RTC: rtcHandler, E2EE: dsrv}
	var _ http.Handler = dsrv
}
