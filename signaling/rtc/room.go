package rtc

import (
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
)

// room is the set of participants sharing one room key.
type room struct {
	h       *Handler
	key     string
	sid     string
	started time.Time
	log     *slog.Logger

	mu       sync.Mutex
	parts    map[string]*participant // by identity
	speaking map[string]float32      // participant SID -> level, for those speaking
	closed   bool

	done chan struct{}
	wg   sync.WaitGroup
}

func newRoom(h *Handler, key string) *room {
	r := &room{
		h: h, key: key, sid: newID("RM_"), started: time.Now(),
		log:   h.log.With("room", roomLogID(key)),
		parts: map[string]*participant{}, speaking: map[string]float32{},
		done: make(chan struct{}),
	}
	r.wg.Add(1)
	go r.speakerLoop()
	return r
}

var errRoomFull = errors.New("rtc: room is full")

// add admits p, replacing (and returning) a participant with the same
// identity, and returns the others present.
func (r *room) add(p *participant) (others []*participant, replaced *participant, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil, errShutdown
	}
	replaced = r.parts[p.identity]
	if replaced == nil && len(r.parts) >= r.h.cfg.MaxParticipants {
		return nil, nil, errRoomFull
	}
	r.parts[p.identity] = p
	for _, q := range r.parts {
		if q != p {
			others = append(others, q)
		}
	}
	sort.Slice(others, func(i, j int) bool { return others[i].joinedAt.Before(others[j].joinedAt) })
	return others, replaced, nil
}

// remove drops p if it is still the participant for its identity.
func (r *room) remove(p *participant) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parts[p.identity] != p {
		return false
	}
	delete(r.parts, p.identity)
	delete(r.speaking, p.sid)
	return true
}

func (r *room) get(identity string) *participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parts[identity]
}

func (r *room) others(p *participant) []*participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*participant, 0, len(r.parts))
	for _, q := range r.parts {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

func (r *room) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parts)
}

func (r *room) empty() bool { return r.count() == 0 }

// broadcast sends res to every participant but except.
func (r *room) broadcast(res *livekit.SignalResponse, except *participant) {
	for _, q := range r.others(except) {
		q.send(res)
	}
}

// announce tells everyone else about p's current state.
func (r *room) announce(p *participant) {
	info := p.info()
	r.broadcast(&livekit.SignalResponse{Message: &livekit.SignalResponse_Update{
		Update: &livekit.ParticipantUpdate{Participants: []*livekit.ParticipantInfo{info}},
	}}, p)
}

func (r *room) info() *livekit.Room {
	return &livekit.Room{
		Sid: r.sid, Name: r.key,
		CreationTime: r.started.Unix(), CreationTimeMs: r.started.UnixMilli(),
		NumParticipants: uint32(r.count()),
	}
}

// speakerInterval is how often speaker changes are computed and sent.
const speakerInterval = 400 * time.Millisecond

// speakerLoop sends SpeakersChanged (the participants who started or stopped
// speaking) from the audio levels the SFU reads in RTP header extensions.
func (r *room) speakerLoop() {
	defer r.wg.Done()
	t := time.NewTicker(speakerInterval)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
			r.updateSpeakers()
		}
	}
}

func (r *room) updateSpeakers() {
	r.mu.Lock()
	parts := make([]*participant, 0, len(r.parts))
	for _, p := range r.parts {
		parts = append(parts, p)
	}
	r.mu.Unlock()
	var changed []*livekit.SpeakerInfo
	for _, p := range parts {
		level, active := p.audioLevel()
		r.mu.Lock()
		_, was := r.speaking[p.sid]
		if active {
			r.speaking[p.sid] = level
		} else {
			delete(r.speaking, p.sid)
		}
		r.mu.Unlock()
		if active || was {
			changed = append(changed, &livekit.SpeakerInfo{Sid: p.sid, Level: level, Active: active})
		}
	}
	if len(changed) == 0 {
		return
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].Level > changed[j].Level })
	res := &livekit.SignalResponse{Message: &livekit.SignalResponse_SpeakersChanged{
		SpeakersChanged: &livekit.SpeakersChanged{Speakers: changed},
	}}
	for _, p := range parts {
		p.send(res)
	}
}

// shutdown tells every participant the server is going away and ends them.
func (r *room) shutdown() {
	r.mu.Lock()
	parts := make([]*participant, 0, len(r.parts))
	for _, p := range r.parts {
		parts = append(parts, p)
	}
	r.parts = map[string]*participant{}
	r.mu.Unlock()
	for _, p := range parts {
		p.kick(livekit.DisconnectReason_SERVER_SHUTDOWN)
	}
	r.close()
}

func (r *room) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	close(r.done)
	r.wg.Wait()
}
