package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Summary is what [Queue.Summarize] counts of a queue: its messages by
// state, their bytes, and the age of the oldest ready one.
type Summary struct {
	Ready    int
	Delayed  int
	Inflight int
	Dead     int
	// Bytes is the size of the bodies of all the messages, in every state.
	Bytes int64
	// OldestReady is the send time of the oldest ready message (see
	// [Entry.Sent]); zero when none is ready.
	OldestReady time.Time
	// SentAfter counts the messages, in any state, whose send time is
	// after the time given to Summarize: those sent since then and not
	// yet acked.
	SentAfter int
	// Paused says whether the queue is paused (see [Queue.Pause]).
	Paused bool
}

// Total returns the number of messages in every state.
func (s Summary) Total() int { return s.Ready + s.Delayed + s.Inflight + s.Dead }

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
