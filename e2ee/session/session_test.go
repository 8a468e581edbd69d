package session

import (
	"testing"
	"time"
)

func TestMeetingConverges(t *testing.T) {
	n := newNetwork(t)
	cs := n.meeting("alice", "bob", "carol")
	for _, c := range cs {
		if len(c.rejected) != 0 {
			t.Errorf("%s rejected: %v", c.name, c.rejected)
		}
	}
	_ = time.Second
}
