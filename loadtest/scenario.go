package loadtest

import (
	"fmt"
	"strings"
	"time"
)

// Scenario names.
const (
	ScenarioVideo     = "video"
	ScenarioWebinar   = "webinar"
	ScenarioAudio     = "audio"
	ScenarioJoinStorm = "joinstorm"
	ScenarioChurn     = "churn"
)

// Scenarios lists the scenarios in the order reports show them.
var Scenarios = []string{ScenarioVideo, ScenarioWebinar, ScenarioAudio, ScenarioJoinStorm, ScenarioChurn}

// scenario says who joins, what each publishes and how they join.
type scenario struct {
	name string
	// publishers publish media; subscribers only receive.
	defPublishers, defSubscribers int
	audio, video                  bool
	// storm joins everyone at once instead of a few at a time.
	storm bool
	// churn replaces a participant every churn interval during the window.
	churn bool
	about string
}

func lookupScenario(name string) (scenario, error) {
	switch name {
	case ScenarioVideo:
		return scenario{name: name, defPublishers: 4, audio: true, video: true,
			about: "every publisher sends VP8 three-layer simulcast and Opus; everyone receives everyone"}, nil
	case ScenarioWebinar:
		return scenario{name: name, defPublishers: 2, defSubscribers: 20, audio: true, video: true,
			about: "a few publishers send VP8 simulcast and Opus to many receive-only participants"}, nil
	case ScenarioAudio:
		return scenario{name: name, defPublishers: 20, audio: true,
			about: "a large room where every participant publishes Opus only"}, nil
	case ScenarioJoinStorm:
		return scenario{name: name, defPublishers: 6, defSubscribers: 6, audio: true, video: true, storm: true,
			about: "everyone joins at the same moment; join-to-first-frame is the figure to watch"}, nil
	case ScenarioChurn:
		return scenario{name: name, defPublishers: 6, audio: true, video: true, churn: true,
			about: "participants keep leaving (gracefully or by vanishing) and new ones join in their place"}, nil
	}
	return scenario{}, fmt.Errorf("loadtest: unknown scenario %q (want %s)", name, strings.Join(Scenarios, ", "))
}

// Bounds on what one run may ask for: this is a tool for one machine.
const (
	maxParticipants = 1000
	maxDuration     = time.Hour
)
