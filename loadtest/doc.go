// Package loadtest drives many Go bots (package clients/bot) against a
// meeting server on this machine and measures what the server does with
// their media: `conclave loadtest`.
//
// A run joins publishers and subscribers to one room of a Conclave server
// (a meeting created with POST /api/meetings and joined through its link)
// or of any server speaking the LiveKit signal protocol with an API key and
// secret (LiveKit server itself, for the side-by-side comparison of
// DESIGN.md "Benchmarks"). Every bot publishes synthetic SFrame-encrypted
// (RFC 9605) VP8 simulcast and Opus frames carrying a sequence number and a
// send timestamp, so the receiving bots measure loss and end-to-end latency
// without the server seeing any plaintext. Scenarios: video meeting,
// webinar, audio-only large room, join storm and churn.
//
// What is measured, over a window after everyone joined and a warm-up:
// packets forwarded to the subscribing bots (media RTP packets they
// received) and bits received by the bots over UDP; the server's CPU time
// and resident memory, read from /proc/PID of the server process; frame
// loss, p50/p95/p99 frame latency, join-to-first-frame and decrypt
// failures from the bots; with MLS keying (Conclave), the E2EE key-rotation
// latency of each membership change, from the change to each remaining
// participant's first frame decrypted under the MLS epoch (RFC 9420) that
// carried it; and the load generator's own cost per bot.
//
// Safety: a run only connects to loopback addresses (the URL must name a
// loopback host, and the bots' ICE is restricted to loopback), with bounded
// counts and a bounded duration; it stops by itself.
//
// What it must never see or print: the meeting link's fragment secret, the
// SFrame keys, access tokens and frame contents. Reports hold counts,
// rates and durations only.
package loadtest
