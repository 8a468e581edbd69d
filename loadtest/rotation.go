package loadtest

import (
	"slices"
	"time"

	"conclave/clients/bot"
)

// Kinds of membership change, as KeyRotationByEventMS names them.
const (
	eventLeave  = "leave"  // a LeaveRequest, then the connections close
	eventVanish = "vanish" // the connections close without a word
	eventJoin   = "join"   // a new participant asks to join the group
)

// memberEvent is one membership change during the window and the
// participants present before it, who must move to a new MLS epoch.
type memberEvent struct {
	kind     string
	identity string // the participant leaving or joining
	at       time.Time
	// joiner is the participant joining; its KeyPackage's send time, when
	// known, replaces at (the group cannot react before it).
	joiner    *member
	receivers []*member
}

func (ev *memberEvent) start() time.Time {
	if ev.joiner != nil {
		if e := ev.joiner.b.E2EE(); e != nil {
			if t := e.Requested(); !t.IsZero() {
				return t
			}
		}
	}
	return ev.at
}

// rotationLatency measures one (change, receiver) pair from the receiver's
// epoch history (RFC 9420 epochs, oldest first): the epoch that carried the
// change is the first one without the leaver after the last one with it,
// or the first one with the joiner; the change is done for the receiver
// when it decrypts a frame under that epoch or a later one (frames of any
// sender: all keys of older epochs are superseded then). applies is false
// when the receiver never had the leaver in its group or already had the
// joiner (it cannot see that change); done is false while it is pending.
func rotationLatency(kind, identity string, start time.Time, hist []bot.EpochRecord) (d time.Duration, applies, done bool) {
	first := -1
	switch kind {
	case eventJoin:
		for i, r := range hist {
			if slices.Contains(r.Members, identity) {
				if i == 0 {
					return 0, false, false // it joined before the receiver
				}
				first = i
				break
			}
		}
		if first < 0 {
			return 0, true, false
		}
	default:
		last := -1
		for i, r := range hist {
			if slices.Contains(r.Members, identity) {
				last = i
			}
		}
		if last < 0 {
			return 0, false, false
		}
		first = last + 1
		if first == len(hist) {
			return 0, true, false
		}
	}
	var opened time.Time
	for _, r := range hist[first:] {
		if !r.FirstOpen.IsZero() && (opened.IsZero() || r.FirstOpen.Before(opened)) {
			opened = r.FirstOpen
		}
	}
	if opened.IsZero() {
		return 0, true, false
	}
	return max(0, opened.Sub(start)), true, true
}

// keyRotation aggregates the key-rotation latency of every change and
// receiver. pending counts the pairs not done by now whose receiver is
// still present.
func keyRotation(events []memberEvent) (all *MSStats, byKind map[string]*MSStats, pending int) {
	hists := map[*member][]bot.EpochRecord{}
	history := func(m *member) []bot.EpochRecord {
		h, ok := hists[m]
		if !ok {
			if e := m.b.E2EE(); e != nil {
				h = e.EpochHistory()
			}
			hists[m] = h
		}
		return h
	}
	var samples []float64
	perKind := map[string][]float64{}
	for i := range events {
		ev := &events[i]
		start := ev.start()
		for _, rx := range ev.receivers {
			d, applies, done := rotationLatency(ev.kind, ev.identity, start, history(rx))
			switch {
			case !applies:
			case !done && !rx.leftAt.IsZero():
				// It left before it moved on: not a remaining receiver.
			case !done:
				pending++
			default:
				samples = append(samples, msOf(d))
				perKind[ev.kind] = append(perKind[ev.kind], msOf(d))
			}
		}
	}
	byKind = map[string]*MSStats{}
	for k, v := range perKind {
		byKind[k] = msStats(v)
	}
	return msStats(samples), byKind, pending
}
