package rtc

// Gate is the media gate of docs/e2ee-protocol.md ("DS behaviour"): the
// E2EE delivery service (package signaling/ds) admits a participant once it
// has joined the room's MLS group. A participant the gate does not admit is
// subscribed to nothing and its tracks are forwarded to nobody, so a joiner
// receives no media, not even ciphertext, before its Welcome.
type Gate interface {
	// Admitted reports whether identity may exchange media in room (a room
	// key). It must not call back into the Handler.
	Admitted(room, identity string) bool
	// Left tells the gate that identity said goodbye (a LeaveRequest): its
	// membership ends now, not after a grace period for reconnecting. It
	// may call back into the Handler (Readmit).
	Left(room, identity string)
}

// admits reports whether p passes the gate.
func (h *Handler) admits(p *participant) bool {
	return h.cfg.Gate == nil || h.cfg.Gate.Admitted(p.room.key, p.identity)
}

// Readmit re-evaluates the gate for identity in room after its answer may
// have changed: an admitted participant is subscribed to the admitted
// publishers' tracks and they to its tracks (as auto-subscribe would have
// done); a participant no longer admitted loses its subscriptions and the
// subscriptions of others to its tracks. The delivery service calls it
// (ds.Config.OnAdmission).
func (h *Handler) Readmit(room, identity string) {
	h.mu.Lock()
	rm := h.rooms[room]
	h.mu.Unlock()
	if rm == nil {
		return
	}
	p := rm.get(identity)
	if p == nil {
		return
	}
	h.cfg.Busy()
	others := rm.others(p)
	if !h.admits(p) {
		var theirs []*pubTrack
		for _, q := range others {
			theirs = append(theirs, q.publishedTracks()...)
		}
		p.unsubscribeAll(theirs)
		mine := p.publishedTracks()
		for _, q := range others {
			q.unsubscribeAll(mine)
		}
		return
	}
	if p.subscr && p.autoSub {
		changed := false
		for _, q := range others {
			for _, t := range q.publishedTracks() {
				changed = p.subscribe(q, t) || changed
			}
		}
		if changed {
			p.negotiate(false)
		}
	}
	mine := p.publishedTracks()
	for _, q := range others {
		if !q.subscr || !q.autoSub {
			continue
		}
		changed := false
		for _, t := range mine {
			changed = q.subscribe(p, t) || changed
		}
		if changed {
			q.negotiate(false)
		}
	}
}
