package cmd

import (
	"bufio"
	"fmt"
	"io"

	"pq/spool"
)

// dropSend is pq send by a member of a drop box's group (see
// spool.Queue.Drop): each message goes into the queue's inbox, and its
// receipt is printed where an ID would be. Only plain messages can be
// dropped: nothing that a member could say of a message besides its
// body reaches the queue.
func dropSend(e *env, q *spool.Queue, o sendOptions) error {
	m := o.msg
	if o.atomic || m.Priority != nil || m.Group != "" || !m.Due.IsZero() || !m.Expires.IsZero() || len(m.Headers) > 0 || m.DedupID != "" {
		return withHint(usagef("send: queue %s is a drop box: its group's members may send plain messages only", q.Name()),
			"leave out --atomic, -p, -g, --delay, --at, --ttl, -H and --dedup-id")
	}
	out := bufio.NewWriter(e.Out)
	defer out.Flush()
	drop := func(r io.Reader) error {
		receipt, err := q.Drop(r)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, receipt)
		return out.Flush()
	}
	inputs, closeInputs, err := openInputs(e, o.files)
	if err != nil {
		return err
	}
	defer closeInputs()
	for _, in := range inputs {
		if !o.lines && !o.nul {
			if err := drop(in); err != nil {
				return err
			}
			continue
		}
		delim := byte('\n')
		if o.nul {
			delim = 0
		}
		rs := newRecords(in, delim)
		for rs.Next() {
			if err := drop(rs); err != nil {
				return err
			}
		}
		if err := rs.Err(); err != nil {
			return fmt.Errorf("send: read input: %w", err)
		}
	}
	return nil
}
