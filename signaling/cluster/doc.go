// Package cluster places rooms on nodes and carries admin commands between
// them. A Router is either Local (one node, no Redis: every room is here) or
// Redis (many nodes sharing one Redis server), as LiveKit's pkg/routing does
// with its local and Redis routers.
//
// With Redis, each node writes a record with its load under a key that
// expires unless the node renews it (Heartbeat), so a node that stops,
// crashes or loses Redis disappears within DeadAfter. A room is placed on
// the least-loaded node that is not draining, and stays there (sticky) while
// that node lives; Reap, run by every node, notices dead nodes and places
// their rooms again at once, so the next /api/join already answers with the
// new node. Draining moves no live room but takes no new ones. Admin
// commands (list rooms, end a meeting, remove a participant) travel to the
// room's node over Redis pub/sub with a reply list.
//
// Redis holds node records (ID, advertised URL, counts), room keys and which
// node hosts each, and the SHA-256 of meeting room IDs with their timestamps
// (RedisStore). What it must never see: room IDs, link secrets, display
// names, tokens, keys or content. A Redis in cluster mode is not supported:
// the placement scripts touch keys they learn while running.
package cluster
