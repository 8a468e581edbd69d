// Package resample converts 16-bit mono PCM between the gateway's rates
// (8, 16 and 48 kHz, and any other ratio of small integers) with a
// polyphase windowed-sinc low-pass filter, keeping state across frames so
// a stream can be fed 20 ms at a time without seams.
//
// It holds only audio of a call; callers must never log it.
package resample
