package cmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"pq/spool"
)

// runSendDedup is pq send --dedup-id KEY: one message, from stdin or one
// FILE, unless a send with KEY made one within the queue's dedup window.
// Either way it prints the id of the message that KEY stands for; for a
// duplicate it also says so on stderr, as "pq: duplicate of ID".
func runSendDedup(e *env, o sendOptions, key string) error {
	switch {
	case o.lines || o.nul || o.atomic || len(o.files) > 1:
		return usagef("send: --dedup-id needs a send of one message: not with --lines, -0, --atomic or several FILEs")
	case key == "" || len(key) > spool.MaxDedupID:
		return usagef("send: --dedup-id must be 1 to %d bytes, not %d", spool.MaxDedupID, len(key))
	}
	o.msg.DedupID = key
	bq, err := e.open(context.Background(), o.queue)
	if err != nil {
		return err
	}
	q, ok := spool.Unwrap(bq)
	if !ok {
		return runSendQueue(context.Background(), e, bq, o)
	}
	if q.DropBox() {
		return dropSend(e, q, o) // which refuses a dedup id
	}
	var in io.Reader = e.In
	if len(o.files) == 1 && o.files[0] != "-" {
		f, err := os.Open(o.files[0])
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return fmt.Errorf("send: %s is a directory", o.files[0])
		}
		in = f
	}
	id, dup, err := q.SendDedup(in, o.msg)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(e.Out, id); err != nil {
		return fmt.Errorf("write ids: %w", err)
	}
	if dup {
		fmt.Fprintf(e.Err, "pq: duplicate of %s\n", id)
	}
	return nil
}
