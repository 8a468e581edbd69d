// Package dtmf decodes the keypad digits a caller presses, from the two
// ways desk phones send them: RTP telephone-events (RFC 4733, Section 2.3)
// and SIP INFO bodies (application/dtmf-relay, the de facto format, and
// application/dtmf, RFC 2976 usage). A Detector turns the repeated event
// packets of one key press into a single digit.
//
// Digits are caller secrets (they include the dial-in code): never log
// them.
package dtmf
