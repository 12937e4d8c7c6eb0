package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"pq/queue"
	"strings"
)

// Stats counts a queue's messages by state.
type Stats = queue.Stats

// Stat counts the queue's messages. It walks new/, so its cost grows with
// the depth of the queue; it takes no locks and changes nothing, and its
// counts are a snapshot that senders and receivers may change at once.
func (q *Queue) Stat() (Stats, error) {
	var s Stats
	nowNs := now().UnixNano()
	count := func(top string) error {
		return filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && path != q.new {
					return nil // a bucket drained and removed meanwhile
				}
				return err
			}
			if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			if top == q.due || ParseName(d.Name()).Due > nowNs {
				s.Delayed++
			} else {
				s.Ready++
			}
			return nil
		})
	}
	for _, top := range []string{q.new, q.due} {
		if err := count(top); err != nil {
			return s, q.missing(fmt.Errorf("stat %s: %w", q.name, err))
		}
	}
	var err error
	if s.Claimed, err = countFiles(q.cur, ""); err != nil {
		return s, fmt.Errorf("stat %s: %w", q.name, err)
	}
	if s.Dead, err = countFiles(q.dlq, reasonSuffix); err != nil {
		return s, fmt.Errorf("stat %s: %w", q.name, err)
	}
	return s, nil
}

// countFiles counts the regular files in dir that are not hidden and do not
// end in skip (when skip is not empty).
func countFiles(dir, skip string) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || skip != "" && strings.HasSuffix(name, skip) {
			continue
		}
		n++
	}
	return n, nil
}
