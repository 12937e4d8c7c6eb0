package queue

import "fmt"

// State is where a message is in its life, as a listing sees it.
type State int

// The states of a message. A backend may not have them all: a message
// backing off on NATS is in flight, not delayed.
const (
	// StateReady: to be claimed.
	StateReady State = iota
	// StateDelayed: backing off after a failure, or sent with a delay.
	StateDelayed
	// StateInflight: claimed, by a live consumer or a dead one whose
	// message has not come back yet.
	StateInflight
	// StateDead: in the dead-letter queue.
	StateDead
)

// States lists every state in the order listings walk them.
var States = []State{StateReady, StateDelayed, StateInflight, StateDead}

var stateNames = [...]string{"ready", "delayed", "inflight", "dead"}

// String returns the state's name: ready, delayed, inflight or dead.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// ParseState returns the state called s, and false for any other name.
func ParseState(s string) (State, bool) {
	for i, n := range stateNames {
		if n == s {
			return State(i), true
		}
	}
	return 0, false
}
