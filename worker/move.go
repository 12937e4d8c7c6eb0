package worker

import (
	"bufio"
	"fmt"
	"os"

	"pq/spool"
)

// newOutput starts the output of the command run on m, for the queue
// CommandOptions.To.
func (r *commandRunner) newOutput(m *Message) (*spool.Output, error) {
	if m.sc == nil {
		return nil, cannotRun("a move to "+r.o.To.Name()+" needs a spool queue", "")
	}
	out, err := m.sc.NewOutput(r.o.To)
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
func (r *commandRunner) commitOutput(m *Message, out *spool.Output, headersPath string) error {
	if hs, err := readOutputHeaders(headersPath); err != nil {
		return &Failure{Cause: fmt.Sprintf("bad output headers: %v", err)}
	} else if err := out.SetHeaders(hs); err != nil {
		return &Failure{Cause: fmt.Sprintf("bad output headers: %v", err)}
	}
	id, err := out.Commit()
	if id == "" {
		return &Failure{Cause: fmt.Sprintf("cannot hand the output over to %s: %v", r.o.To.Name(), err)}
	}
	if err != nil {
		r.log(m, "output handed over to %s as %s, but: %v", r.o.To.Name(), id, err)
	}
	return nil
}

// outputHeadersFile makes the empty file, outside the spool, where a
// command whose output goes to another queue may write headers for it:
// its path is the command's PQ_OUTPUT_HEADERS.
func outputHeadersFile() (string, error) {
	f, err := os.CreateTemp("", "pq-output-headers-")
	if err != nil {
		return "", fmt.Errorf("cannot make the output headers file: %w", err)
	}
	f.Close()
	return f.Name(), nil
}

// readOutputHeaders reads the headers a command wrote to path: one
// KEY=VALUE a line, empty lines skipped.
func readOutputHeaders(path string) ([]spool.Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hs []spool.Header
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() == "" {
			continue
		}
		h, err := spool.ParseHeader(sc.Text())
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	return hs, sc.Err()
}
