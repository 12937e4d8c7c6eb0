package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"pq/lock"
)

// Recover finishes the moves of dead movers ([Queue.RecoverMoves]), then
// puts back into new/ every message in cur/ whose claim is dead: its
// file is not locked, so the consumer that claimed it has exited without
// acking or releasing it. Each goes back in its place by send time, with
// one more failed attempt. Recover returns the IDs it put back. Live claims
// are left alone, and any number of processes may recover at once.
// Anything in cur/ that is not a regular file is moved aside (see
// [Queue.Strays]); it never blocks recovery.
func (q *Queue) Recover() ([]ID, error) {
	if _, err := q.RecoverMoves(); err != nil {
		q.log.Warn("cannot finish a dead mover's move yet", "err", err)
	}
	var ls lister
	ents, err := ls.list(q.cur, "")
	if err != nil {
		return nil, q.missing(fmt.Errorf("recover %s: %w", q.name, err))
	}
	var ids []ID
	dirs := map[string]bool{}
	for _, e := range ents {
		typ, err := kind(q.cur, e)
		if err != nil {
			continue
		}
		if !typ.IsRegular() {
			q.quarantine(filepath.Join(q.cur, e.name), dirCur+"/"+e.name, typ)
			continue
		}
		id, err := q.recoverOne(e.name, dirs)
		if err != nil {
			return ids, err
		}
		if id != "" {
			ids = append(ids, id)
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
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, lock.ErrNotFile) {
			return "", fmt.Errorf("recover %s: %w", path, err)
		}
		return "", nil
	}
	f, st, err := openMessage(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotRegular) {
		return "", nil // gone, or replaced by a stray the next look moves aside
	}
	if err != nil {
		return "", fmt.Errorf("recover %s: %w", path, err)
	}
	defer f.Close()
	hook("recover-open", path)
	if err := lock.TryFile(f); errors.Is(err, lock.ErrLocked) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("recover %s: %w", path, err)
	}
	// We hold the lock now, so no live consumer owns the file. The name
	// must still be the file we locked: if the message was recovered,
	// claimed and acked by others meanwhile, it may name a live claim of
	// another file now.
	if !namesFile(path, st) {
		return "", nil
	}
	n := ParseName(base)
	if st.Nlink > 1 && q.staleInCur(n, st) {
		remove(path)
		return "", nil
	}
	n = withAttempt(n)
	if !q.holdGroupFor(n) { // it goes first in its group again
		return "", nil // or stays in cur/ until that can be recorded
	}
	if !wellFormed(base) {
		err = q.renew(path, n, base, dirs)
	} else {
		err = q.placeBack(path, n, dirs)
	}
	if err != nil {
		// Gone: its consumer acked it just before dying.
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
// returns the names it removed, the directories of atomic batches whose
// senders died before their commits included. A live sender writes its file within
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
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		path := filepath.Join(q.tmp, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), movePrefix) && q.keepStaged(e.Name(), fi.ModTime(), cutoff):
			continue // a move's staged output: see keepStaged
		case fi.Mode().IsRegular():
			err = remove(path)
		case fi.IsDir() && strings.HasPrefix(e.Name(), stagePrefix):
			// An atomic batch whose sender died before its commit.
			err = os.RemoveAll(path)
		default:
			continue
		}
		if err == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}
