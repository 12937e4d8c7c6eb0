package worker

import (
	"fmt"

	"pq/spool"
)

// newOutput starts the output of the command run on m, for the queue
// CommandOptions.To.
func (r *commandRunner) newOutput(m *Message) (*spool.Output, error) {
	out, err := m.c.NewOutput(r.o.To)
	if err != nil {
		return nil, &Failure{Cause: fmt.Sprintf("cannot start the output for %s: %v", r.o.To.Name(), err)}
	}
	return out, nil
}

// commitOutput hands the output of a command that exited 0 over to its
// queue. An output handed over is a success even when a sync after the
// handover failed, which is logged: the move cannot be undone, and the
// worker's ack ends it. One that could not be handed over is a failed
// attempt, the input's claim as it was.
func (r *commandRunner) commitOutput(m *Message, out *spool.Output) error {
	id, err := out.Commit()
	if id == "" {
		return &Failure{Cause: fmt.Sprintf("cannot hand the output over to %s: %v", r.o.To.Name(), err)}
	}
	if err != nil {
		r.log(m, "%s: output handed over to %s as %s, but: %v", m.ID(), r.o.To.Name(), id, err)
	}
	return nil
}
