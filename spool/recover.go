package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"pq/lock"
)

// Recover puts back into new/ every message in cur/ whose claim is dead: its
// file is not locked, so the consumer that claimed it has exited without
// acking or releasing it. Each goes back in its place by send time, with
// one more failed attempt. Recover returns the IDs it put back. Live claims
// are left alone, and any number of processes may recover at once.
func (q *Queue) Recover() ([]ID, error) {
	d, err := os.Open(q.cur)
	if err != nil {
		return nil, q.missing(fmt.Errorf("recover %s: %w", q.name, err))
	}
	defer d.Close()
	var ids []ID
	dirs := map[string]bool{}
	for {
		names, err := d.Readdirnames(readdirChunk)
		for _, base := range names {
			if strings.HasPrefix(base, ".") {
				continue
			}
			id, err := q.recoverOne(base, dirs)
			if err != nil {
				return ids, err
			}
			if id != "" {
				ids = append(ids, id)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ids, fmt.Errorf("recover %s: %w", q.name, err)
		}
	}
	if len(ids) > 0 && !q.opts.NoSync {
		dirs[q.cur] = true
		if err := syncDirs(dirs); err != nil {
			return ids, fmt.Errorf("recover %s: %w", q.name, err)
		}
	}
	if len(ids) > 0 {
		poke(q.new)
	}
	return ids, nil
}

// recoverOne puts cur/base back into new/ if its claim is dead, returning its
// ID, or "" when the claim is alive or already ended.
func (q *Queue) recoverOne(base string, dirs map[string]bool) (ID, error) {
	path := filepath.Join(q.cur, base)
	// Look first through a read-only descriptor: its close, unlike that
	// of a descriptor open for writing, wakes no one who watches cur/.
	if held, err := lock.Held(path); err != nil || held {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("recover %s: %w", path, err)
		}
		return "", nil
	}
	f, err := openMessage(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("recover %s: %w", path, err)
	}
	defer f.Close()
	if err := lock.TryFile(f); errors.Is(err, lock.ErrLocked) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("recover %s: %w", path, err)
	}
	n := withAttempt(ParseName(base))
	// We hold the lock now, so no live consumer owns the file; if the
	// name is gone, its consumer acked it just before dying.
	if err := q.placeInNew(path, n, dirs); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("recover %s: %w", path, err)
	}
	q.log.Info("recovered a dead consumer's message", "id", n.ID, "attempts", n.Attempts)
	return n.ID, nil
}

// CleanTmp removes the files in tmp/ that were last written more than age
// ago: what senders that crashed in the middle of a send left behind. It
// returns the names it removed. A live sender writes its file within
// moments, so an age of hours cannot touch one.
func (q *Queue) CleanTmp(age time.Duration) ([]string, error) {
	ents, err := os.ReadDir(q.tmp)
	if err != nil {
		return nil, q.missing(fmt.Errorf("clean %s/tmp: %w", q.name, err))
	}
	cutoff := now().Add(-age)
	var removed []string
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(q.tmp, e.Name())); err == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}
