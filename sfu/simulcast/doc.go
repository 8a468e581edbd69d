// Package simulcast chooses which simulcast layer of a video track a
// subscriber receives (RFC 8853 simulcast, identified by RTP stream IDs,
// RFC 8852): the best layer the subscriber asked for (by quality or by the
// size it renders at) that its estimated bandwidth can carry.
//
// It is a pure function of numbers; it sees no packets.
package simulcast
