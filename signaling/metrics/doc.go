// Package metrics exposes a node's Prometheus metrics: rooms and
// participants on this node, join attempts and refusals by outcome, meetings
// created, cluster size and placement moves, forwarded packets and bytes when
// the media plane counts them, and the Go runtime and process (CPU, memory).
//
// What it must never see: labels carry only fixed, enumerated values (an
// outcome such as "rate_limited"); never a room ID or key, a participant
// identity, a display name or an address. A meeting's existence is counted,
// never named.
package metrics
