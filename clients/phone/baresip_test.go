package phone

import "conclave/clients/phone/phonetest"

// The baresip driver and the tone helpers live in phonetest, shared with
// internal/itest; these names keep this package's tests short.
type (
	baresip       = phonetest.Baresip
	baresipConfig = phonetest.Config
)

var (
	writeToneWAV = phonetest.WriteToneWAV
	readWAV      = phonetest.ReadWAV
	startBaresip = phonetest.Start
	goertzel     = phonetest.Goertzel
	toneSpans    = phonetest.ToneSpans
	selfSigned   = phonetest.SelfSigned
)
