package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// PruneDeadLetters removes the oldest dead letters beyond what the queue's
// settings keep (Settings.DLQMaxAge and Settings.DLQMaxCount), oldest
// first by the time they were dead-lettered, and returns the IDs removed.
// With neither setting it removes nothing. Each dead letter goes with its
// reason and its metadata: the reason first, so that a crash in between
// leaves at worst a dead letter without its record, as a crash while
// dead-lettering may; then the removals are made durable with one fsync
// of dlq/.
func (q *Queue) PruneDeadLetters() ([]ID, error) {
	s, err := q.Settings()
	if err != nil {
		return nil, err
	}
	if s.DLQMaxAge <= 0 && s.DLQMaxCount <= 0 {
		return nil, nil
	}
	dead, err := q.DeadLetters()
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(dead, func(a, b DeadLetter) int { return deadAt(a).Compare(deadAt(b)) })
	cut := 0
	if s.DLQMaxCount > 0 && len(dead) > s.DLQMaxCount {
		cut = len(dead) - s.DLQMaxCount
	}
	if s.DLQMaxAge > 0 {
		limit := now().Add(-s.DLQMaxAge)
		for cut < len(dead) && deadAt(dead[cut]).Before(limit) {
			cut++
		}
	}
	var ids []ID
	for _, d := range dead[:cut] {
		if err := q.removeDeadLetter(d); err != nil {
			return ids, err
		}
		ids = append(ids, d.Name.ID)
	}
	if len(ids) > 0 {
		if err := q.sync(q.dlq); err != nil {
			return ids, fmt.Errorf("prune dead letters of %s: %w", q.name, err)
		}
	}
	return ids, nil
}

// deadAt is when d was dead-lettered: its reason's time, or, without a
// reason recorded, its file's modification time.
func deadAt(d DeadLetter) time.Time {
	if !d.Reason.Time.IsZero() {
		return d.Reason.Time
	}
	if fi, err := os.Lstat(d.Path); err == nil {
		return fi.ModTime()
	}
	return time.Time{}
}

// removeDeadLetter removes d, its reason and its metadata; what is gone
// already (redriven, removed by another) is no error.
func (q *Queue) removeDeadLetter(d DeadLetter) error {
	for _, p := range []string{filepath.Join(q.dlq, string(d.Name.ID)+reasonSuffix), d.Path} {
		if err := remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("prune dead letter %s: %w", d.Name.ID, err)
		}
	}
	if d.Name.Meta {
		q.removeMeta(d.Name.ID)
	}
	return nil
}
