package ds

// QueueStats is a snapshot of the delivery service's queues, for metrics:
// counts and sizes only, never identities, room keys or content.
type QueueStats struct {
	Rooms int // rooms with state
	Conns int // connections attached to a room
	// SendMessages and SendBytes wait in the connections' send queues;
	// MaxSendBytes is the fullest one's (a connection is dropped as too
	// slow past Config.SendQueueBytes).
	SendMessages, SendBytes, MaxSendBytes int
	Lobby                                 int // joiners waiting to be added by a member
	LogMessages, LogBytes                 int // handshake messages kept for resumption
}

// QueueStats reads the queue lengths of every room and connection. It
// takes each room's lock in turn (and each connection's within it, the
// order sending uses), so its cost grows with the connections; call it at
// scrape intervals, not per message.
func (s *Server) QueueStats() QueueStats {
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	q := QueueStats{Rooms: len(rooms)}
	for _, r := range rooms {
		r.mu.Lock()
		q.Conns += len(r.conns)
		q.Lobby += len(r.pending)
		q.LogMessages += len(r.hlog)
		q.LogBytes += r.hlogBytes
		for c := range r.conns {
			c.mu.Lock()
			q.SendMessages += len(c.out)
			q.SendBytes += c.queued
			q.MaxSendBytes = max(q.MaxSendBytes, c.queued)
			c.mu.Unlock()
		}
		r.mu.Unlock()
	}
	return q
}

// QueueLengths implements signaling/metrics.DeliveryQueues.
func (s *Server) QueueLengths() (conns, sendMessages, sendBytes, maxSendBytes, lobby, logMessages int) {
	q := s.QueueStats()
	return q.Conns, q.SendMessages, q.SendBytes, q.MaxSendBytes, q.Lobby, q.LogMessages
}
