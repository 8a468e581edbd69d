package simulcast

// Quality indexes layers from lowest to highest. The LiveKit signal protocol
// names them LOW, MEDIUM and HIGH, carried by rids "q", "h" and "f".
type Quality int

// Layer qualities.
const (
	Low    Quality = 0
	Medium Quality = 1
	High   Quality = 2
	// None means no layer: the subscriber disabled the track or nothing is
	// being received.
	None Quality = -1
)

// MaxLayers is the number of simulcast layers the SFU forwards.
const MaxLayers = 3

// QualityForRID maps a LiveKit rid to its layer. A track without simulcast
// has no rid and is a single Low layer.
func QualityForRID(rid string) (Quality, bool) {
	switch rid {
	case "q", "":
		return Low, true
	case "h":
		return Medium, true
	case "f":
		return High, true
	}
	return None, false
}

// Layer describes one layer as the SFU currently sees it.
type Layer struct {
	// Active is true while packets of this layer arrive.
	Active bool
	// Width and Height are the publisher's declared dimensions (0 if unknown).
	Width, Height uint32
	// Bitrate is the measured bitrate in bits per second (0 if unknown).
	Bitrate uint64
}

// Request is what a subscriber asked for in UpdateTrackSettings.
type Request struct {
	Disabled bool
	// MaxQuality caps the layer.
	MaxQuality Quality
	// Width and Height, if set, ask for the smallest layer at least this large,
	// which overrides MaxQuality.
	Width, Height uint32
}

// DefaultRequest receives the best layer.
var DefaultRequest = Request{MaxQuality: High}

// headroom is the share of the estimated bandwidth a layer may use, leaving
// room for audio, retransmissions and estimation error.
const headroomNum, headroomDen = 9, 10

// Select returns the layer a subscriber should receive, or None. bandwidth is
// the subscriber's estimated available bandwidth in bits per second (0 means
// unknown, which does not constrain).
//
// The wanted layer is the highest allowed by the request. If it cannot be
// carried, lower layers are tried; the lowest active layer is kept even if it
// exceeds the estimate, since a frozen video is worse than a congested one and
// congestion control will drop until the next keyframe. An inactive wanted
// layer falls back to the nearest active one, lower first.
func Select(layers []Layer, req Request, bandwidth uint64) Quality {
	if req.Disabled || len(layers) == 0 {
		return None
	}
	want := wanted(layers, req)
	budget := bandwidth * headroomNum / headroomDen
	lowestActive := None
	for q := Quality(0); int(q) < len(layers); q++ {
		if layers[q].Active {
			lowestActive = q
			break
		}
	}
	if lowestActive == None {
		return None
	}
	for q := want; q >= 0; q-- {
		l := layers[q]
		if !l.Active {
			continue
		}
		if bandwidth == 0 || l.Bitrate == 0 || l.Bitrate <= budget || q == lowestActive {
			return q
		}
	}
	// Nothing at or below the wanted layer is active: take the nearest above.
	for q := want + 1; int(q) < len(layers); q++ {
		if layers[q].Active {
			return q
		}
	}
	return lowestActive
}

func wanted(layers []Layer, req Request) Quality {
	top := Quality(len(layers) - 1)
	if req.Width > 0 || req.Height > 0 {
		// Smallest layer covering the rendered size; if sizes are unknown,
		// fall through to the quality cap.
		known := false
		for q := Quality(0); q <= top; q++ {
			l := layers[q]
			if l.Width == 0 && l.Height == 0 {
				continue
			}
			known = true
			if l.Width >= req.Width && l.Height >= req.Height {
				return q
			}
		}
		if known {
			return top
		}
	}
	q := req.MaxQuality
	if q > top {
		q = top
	}
	if q < 0 {
		q = 0
	}
	return q
}
