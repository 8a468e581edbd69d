// Package signaling is the control plane of `conclave serve`: the HTTP API
// (meetings, join, version), the web app's routes, the /rtc signal endpoint
// (package signaling/rtc) and the wiring of the SFU, store and TURN server.
//
// What it must never see: media or chat keys, the link's fragment secret, or
// raw room IDs beyond the single request that presents one. Room IDs are
// capabilities (DESIGN.md P3); the store keeps only their SHA-256, and every
// layer after /api/join names a room by its room key, derived from that hash.
package signaling
