// Package phonetest drives a real SIP softphone (Debian's baresip) for
// tests of the phone gateway, in this package's tests and the integration
// tests (internal/itest): start it with a WAV tone as its microphone, dial,
// send DTMF, wait for call events, and read back what it heard.
//
// It is test support only: it runs an external program and must never be
// imported by production code.
package phonetest
