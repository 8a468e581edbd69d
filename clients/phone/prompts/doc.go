// Package prompts generates the tones a caller hears from the gateway, in
// code (no recordings, no text-to-speech): each prompt is a pattern of
// sine tones and silences at 48 kHz, chosen to be told apart by ear and by
// a Goertzel detector in tests.
//
//	EnterCode  660 Hz then 880 Hz, 200 ms each, every 3 s: "enter the code, then #"
//	WrongCode  the special information tone (913.8, 1370.6, 1776.7 Hz; ITU-T E.180 Supplement 2)
//	Waiting    425 Hz, 1 s on, 4 s off (the ETSI ringing tone): "waiting in the lobby"
//	Admitted   523, 659, 784 Hz rising, 150 ms each: "you are in the meeting"
//	Refused    784, 659, 523 Hz falling: "not admitted", before the gateway hangs up
//	Muted      350 Hz, 150 ms; Unmuted 1050 Hz, 150 ms
package prompts
