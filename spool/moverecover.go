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

// Moved is a move that [Queue.RecoverMoves] finished for a mover that
// died.
type Moved struct {
	// ID is the message's ID in the queue it left.
	ID ID
	// To is the queue it went to.
	To string
	// NewID is its ID there when recovery handed it over; empty when its
	// mover had handed it over already and recovery only ended the move.
	NewID ID
}

// RecoverMoves finishes the moves to other queues whose movers died (see
// [Claim.MoveTo] and [Output.Commit]): each message in .moving/ whose lock
// can be taken. If its output is still staged in the target queue, it is
// handed over now; if not, the mover handed it over before it died. Either
// way the message then leaves this queue. Live moves are left alone, and
// any number of processes may recover at once. It returns the moves it
// finished, and the first error met; a move it could not finish stays for
// the next recovery.
func (q *Queue) RecoverMoves() ([]Moved, error) {
	top := filepath.Join(q.dir, dirMoving)
	var ls, sub lister
	targets, err := ls.list(top, "")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recover moves of %s: %w", q.name, err)
	}
	var done []Moved
	var first error
	for _, t := range targets {
		ents, err := sub.list(filepath.Join(top, t.name), "")
		if err != nil {
			continue // not a directory; or gone
		}
		for _, e := range ents {
			m, ok, err := q.recoverMove(t.name, e.name)
			if err != nil && first == nil {
				first = err
			}
			if ok {
				done = append(done, m)
			}
		}
	}
	return done, first
}

// recoverMove finishes the move of .moving/target/base if its mover is
// dead, and reports whether it did.
func (q *Queue) recoverMove(target, base string) (Moved, bool, error) {
	path := filepath.Join(q.dir, dirMoving, target, base)
	if held, err := lock.Held(path); err != nil || held {
		return Moved{}, false, nil
	}
	f, st, err := openMessage(path)
	if err != nil {
		return Moved{}, false, nil // gone, or not a message: left alone
	}
	defer f.Close()
	if lock.TryFile(f) != nil || !namesFile(path, st) {
		return Moved{}, false, nil // a live mover, or finished meanwhile
	}
	to, err := Open(filepath.Dir(q.dir), target, q.opts)
	if err != nil {
		return Moved{}, false, fmt.Errorf("recover the move of %s: %w", base, err)
	}
	if err := to.Check(); err != nil {
		// Its target is gone: the output cannot be there, nor be
		// handed over. Left as it is for someone to look at.
		return Moved{}, false, fmt.Errorf("recover the move of %s: %w", base, err)
	}
	n := ParseName(base)
	staged := filepath.Join(to.tmp, stageName(q.name, n.ID))
	id, err := to.handOver(staged, n)
	if errors.Is(err, errNotStaged) {
		err = nil // handed over by the mover before it died
	}
	if id == "" && err != nil {
		return Moved{}, false, fmt.Errorf("recover the move of %s: %w", base, err)
	}
	remove(staged + stageMeta)
	if rerr := remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return Moved{}, false, fmt.Errorf("recover the move of %s: %w", base, rerr)
	}
	if n.Meta {
		q.removeMeta(n.ID)
	}
	q.log.Info("finished a dead mover's move", "id", n.ID, "to", target, "new_id", id)
	return Moved{ID: n.ID, To: target, NewID: id}, true, err
}

// keepStaged reports whether the staged output name in tmp/, last written
// at mod, must stay: its input is being moved (in cur/ or .moving/ of its
// queue), or it is younger than cutoff. A staged output whose input is
// neither was left by an attempt that died before its intent, and is
// never handed over by itself.
func (q *Queue) keepStaged(name string, mod, cutoff time.Time) bool {
	from, id, ok := parseStageName(name)
	if !ok {
		return !mod.Before(cutoff) // a command's output, left by a dead worker
	}
	if !mod.Before(cutoff) {
		return true
	}
	dir := filepath.Join(filepath.Dir(q.dir), from)
	var ls lister
	for _, d := range []string{filepath.Join(dir, dirCur), filepath.Join(dir, dirMoving, q.name)} {
		if dirHolds(&ls, d, id) {
			return true
		}
	}
	fi, err := os.Lstat(filepath.Join(q.tmp, name))
	return err != nil || !fi.ModTime().Before(cutoff)
}

// ClaimIDs claims the messages of the given IDs that are ready in new/,
// in one walk of new/, and returns their claims by ID; an ID that is not
// there (delayed, claimed, dead-lettered, gone, or never sent) has none.
func (q *Queue) ClaimIDs(ids ...ID) (map[ID]*Claim, error) {
	want := map[ID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	claims := map[ID]*Claim{}
	err := filepath.WalkDir(q.new, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if len(claims) == len(want) {
			return filepath.SkipAll
		}
		base := d.Name()
		if !d.Type().IsRegular() || strings.HasPrefix(base, ".") {
			return nil
		}
		id := ParseName(base).ID
		if !want[id] || claims[id] != nil {
			return nil
		}
		c, err := q.claimFile(path)
		if errors.Is(err, errGone) {
			return nil
		}
		if err != nil {
			return err
		}
		claims[id] = c
		return nil
	})
	if err != nil {
		for _, c := range claims {
			c.Release()
		}
		return nil, q.missing(fmt.Errorf("claim by id in %s: %w", q.name, err))
	}
	return claims, nil
}

// ReplyTo returns where the reply to the claimed request goes: the queue
// and the ID of its reply place. That is the claim's own queue and ID,
// unless the request was moved there from another queue (see
// [Claim.MoveTo]), whose reply address it keeps. It is meaningful only for
// a request ([Claim.Request]).
func (c *Claim) ReplyTo() (*Queue, ID) {
	if !c.name.Meta {
		return c.q, c.name.ID
	}
	m, err := c.q.readMeta(c.name.ID)
	if err != nil || m.ReplyQueue == "" || m.ReplyQueue == c.q.name {
		return c.q, c.name.ID
	}
	rq, err := Open(filepath.Dir(c.q.dir), m.ReplyQueue, c.q.opts)
	if err != nil {
		return c.q, c.name.ID
	}
	return rq, m.ReplyID
}
