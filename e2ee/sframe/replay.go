package sframe

import "fmt"

// replayWindow is a sliding-window anti-replay check in the style of
// RFC 3711, Section 3.3.2, on the SFrame CTR (RFC 9605, Section 9.3 leaves
// anti-replay to the application). It remembers which of the last size
// counters up to the highest accepted one have been seen. A counter more than
// maxJump ahead of the highest is refused, so that one forged or corrupt
// frame cannot drag the window far ahead (a real risk with the 32-bit tags of
// AES_128_CTR_HMAC_SHA256_32, Section 9.5).
type replayWindow struct {
	started bool
	top     Counter
	size    uint64
	maxJump uint64
	seen    []uint64 // bitmap indexed by counter mod size
}

func newReplayWindow(size, maxJump uint64) replayWindow {
	return replayWindow{size: size, maxJump: maxJump, seen: make([]uint64, size/64)}
}

func (w *replayWindow) bit(c Counter) (int, uint64) {
	i := uint64(c) % w.size
	return int(i / 64), 1 << (i % 64)
}

// check reports whether c may be accepted; it changes nothing.
func (w *replayWindow) check(c Counter) error {
	if !w.started {
		return nil
	}
	if c > w.top {
		if uint64(c-w.top) > w.maxJump {
			return fmt.Errorf("%w: %d ahead of %d", ErrCounterRange, c, w.top)
		}
		return nil
	}
	if uint64(w.top-c) >= w.size {
		return fmt.Errorf("%w: counter %d older than window", ErrReplay, c)
	}
	word, mask := w.bit(c)
	if w.seen[word]&mask != 0 {
		return fmt.Errorf("%w: counter %d", ErrReplay, c)
	}
	return nil
}

// accept records c, which check has allowed and which authenticated.
func (w *replayWindow) accept(c Counter) {
	switch {
	case !w.started:
		w.started, w.top = true, c
	case c > w.top:
		if uint64(c-w.top) >= w.size {
			clear(w.seen)
		} else {
			for x := w.top + 1; x != c+1; x++ {
				word, mask := w.bit(x)
				w.seen[word] &^= mask
			}
		}
		w.top = c
	}
	word, mask := w.bit(c)
	w.seen[word] |= mask
}
