package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"pq/queue"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Summary is what [Queue.Summarize] counts of a queue: its messages by
// state, their bytes (Bytes: the bodies of all the messages, in every
// state), the send time of the oldest ready one (see [Entry.Sent]), and
// whether it is paused (see [Queue.Pause]).
type Summary = queue.Summary

// Summarize counts the queue's messages by state, and their bytes, with
// one listing of each directory and one lstat of each file (fstatat on
// Linux), and tells whether the queue is paused: it never opens a body, takes no locks and changes nothing.
// Messages move meanwhile, so the counts are those of no single moment.
func (q *Queue) Summarize(since time.Time) (Summary, error) {
	if err := q.checkFormat(); err != nil {
		return Summary{}, err
	}
	t := &tally{now: now().UnixNano(), since: since.UnixNano(), oldest: -1}
	if since.IsZero() {
		t.since = -1 << 63
	}
	steps := []struct {
		dir  string
		s    State
		must bool
	}{
		{q.new, StateReady, true},
		{q.due, StateDelayed, false},
		{q.cur, StateInflight, true},
		{q.dlq, StateDead, true},
	}
	for _, st := range steps {
		err := sumTree(st.dir, func(name string, size, mtime int64) { t.add(st.s, name, size, mtime) })
		if !st.must && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR)) {
			continue
		}
		if err != nil {
			return Summary{}, q.missing(fmt.Errorf("stat %s: %w", q.name, err))
		}
	}
	if t.oldest >= 0 {
		t.sum.OldestReady = time.Unix(0, t.oldest)
	}
	p, err := q.Paused()
	if err != nil {
		return Summary{}, err
	}
	t.sum.Paused = p
	return t.sum, nil
}

// tally adds up the files of a Summarize.
type tally struct {
	sum    Summary
	now    int64
	since  int64
	oldest int64 // -1: none yet
}

// add counts the message file called name, of size and mtime (in
// nanoseconds), found in the directory of state s.
func (t *tally) add(s State, name string, size, mtime int64) {
	if s == StateDead && strings.HasSuffix(name, reasonSuffix) {
		return
	}
	if s == StateReady && strings.Contains(name, ",d=") && ParseName(name).Due > t.now {
		s = StateDelayed
	}
	sent, ok := idNanos(name)
	if !ok {
		sent = mtime
	}
	switch s {
	case StateReady:
		t.sum.Ready++
		if t.oldest < 0 || sent < t.oldest {
			t.oldest = sent
		}
	case StateDelayed:
		t.sum.Delayed++
	case StateInflight:
		t.sum.Inflight++
	case StateDead:
		t.sum.Dead++
	}
	if sent > t.since {
		t.sum.SentAfter++
	}
	t.sum.Bytes += size
}
