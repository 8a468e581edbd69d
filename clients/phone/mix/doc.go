// Package mix sums the audio of several talkers into one stream per
// listener, leaving each listener's own voice out (an N−1 mix), so the
// phone does not hear itself. Inputs are 48 kHz mono frames written by
// their receivers at their own pace and buffered briefly; a listener's
// frame is read once per 20 ms tick.
//
// It holds decoded audio of the meeting; never log it.
package mix
