// Package phonetest drives a real SIP softphone (Debian's baresip) for
// tests of the phone gateway, in its tests and the integration tests
// (internal/itest): start it with a WAV tone as its microphone, dial, send
// DTMF, wait for call events, and read back what it heard. Its tone helpers
// (WAV files, Goertzel power) serve the media packages' tests too.
//
// It is test support only: it runs an external program and must never be
// imported by production code.
package phonetest
