package cluster

// leastLoaded picks the node that is not draining with the lowest load,
// breaking ties by ID so that the choice is deterministic. ok is false when
// every node is draining or there are none.
func leastLoaded(nodes []Node) (Node, bool) {
	var (
		best  Node
		found bool
	)
	for _, n := range nodes {
		if n.Draining {
			continue
		}
		if !found || n.load() < best.load() || (n.load() == best.load() && n.ID < best.ID) {
			best, found = n, true
		}
	}
	return best, found
}
