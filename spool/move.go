package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Moves between queues (see the package documentation, "Moves"):
//
//  1. stage: the output is written into the target's tmp/ under a name
//     made from the input's queue and ID (stageName), fsynced, and tmp/
//     fsynced;
//  2. intent: the input, still locked, is renamed from cur/NAME to
//     .moving/TARGET/NAME in its own queue, which is fsynced;
//  3. handover: under the target's commit lock the staged file is given
//     an ID and renamed into new/: the one rename that takes it out of
//     staging, so that "staged file gone" means "handed over";
//  4. done: .moving/TARGET/NAME is unlinked (by [Queue.Ack]).
//
// Recovery finishes what a dead mover left in .moving/.

// dirMoving holds the messages being moved to another queue, in a
// directory named after that queue: .moving/TARGET/NAME.
const dirMoving = ".moving"

// Prefixes of the names of a move's files in the target's tmp/.
const (
	movePrefix = ".move-"     // a staged output: .move-QUEUE+ID
	outPrefix  = ".move-out-" // a command's output being written
	stageMeta  = ".meta"      // ends the staged output's metadata
)

// stageName is the name in the target's tmp/ of the output staged for the
// message id of the queue from: the same for every attempt, so that an
// attempt stages over what an earlier one left. '+' is in neither queue
// names nor IDs made by pq.
func stageName(from string, id ID) string {
	return movePrefix + from + "+" + string(id)
}

// parseStageName returns the queue and the ID a staged name is made of.
func parseStageName(name string) (from string, id ID, ok bool) {
	rest, ok := strings.CutPrefix(name, movePrefix)
	if !ok || strings.HasPrefix(name, outPrefix) {
		return "", "", false
	}
	rest = strings.TrimSuffix(rest, stageMeta)
	from, i, ok := strings.Cut(rest, "+")
	return from, ID(i), ok && ValidName(from) == nil && i != ""
}

// moveCrash, when set by a test, is asked at each step of a move
// ("staged", "intent", "handed-over"); when it returns true, the move stops
// there as if its process had died, leaving everything as it is.
var moveCrash func(point string) bool

// errCrashed is what a move stopped by moveCrash returns.
var errCrashed = errors.New("move stopped by a test")

// crashAt reports whether a test stops the move at point.
func crashAt(point string) bool { return moveCrash != nil && moveCrash(point) }

// Output is the body of a message being written for another queue by the
// handler of a claimed message (pq recv --exec CMD --to QUEUE2): see
// [Claim.NewOutput]. It is for one goroutine.
type Output struct {
	c       *Claim
	to      *Queue
	f       *os.File
	path    string
	headers []Header // set by the handler, over the input's
	done    bool
}

// NewOutput starts the output of the claim's handler for the queue to:
// a file in to's tmp/, which [Output.Commit] hands over to to as a new
// message, atomically with the end of the claim, or [Output.Abort] drops.
// The queue to is created if it does not exist.
func (c *Claim) NewOutput(to *Queue) (*Output, error) {
	if err := c.checkTarget(to); err != nil {
		return nil, err
	}
	id, _ := newID()
	path := filepath.Join(to.tmp, outPrefix+string(id))
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL
	f, err := openFD(path, flags, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err = to.Create(); err == nil {
			f, err = openFD(path, flags, 0o600)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("output of %s for %s: %w", c.name.ID, to.name, err)
	}
	return &Output{c: c, to: to, f: f, path: path}, nil
}

// checkTarget refuses a move to the claim's own queue, or to a queue of
// a format this pq does not know.
func (c *Claim) checkTarget(to *Queue) error {
	if to.dir == c.q.dir {
		return fmt.Errorf("move %s: %w", c.name.ID, ErrSameQueue)
	}
	if err := to.checkFormat(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("move %s to %s: %w", c.name.ID, to.name, err)
	}
	return nil
}

// File returns the output's file, open for writing: a command's stdout.
func (o *Output) File() *os.File { return o.f }

// SetHeaders gives the output headers of its own: each replaces the
// input's header of the same key (as EnvName maps keys), or joins them.
// The whole must be valid headers of at most 4 KiB, or SetHeaders returns
// an error matching ErrBadHeader and changes nothing.
func (o *Output) SetHeaders(hs []Header) error {
	in, err := o.c.Headers()
	if err != nil {
		return err
	}
	if _, err := mergeHeaders(in, hs); err != nil {
		return fmt.Errorf("output of %s: %w", o.c.name.ID, err)
	}
	o.headers = hs
	return nil
}

// mergeHeaders returns base with each of over replacing the header of the
// same key, or appended, and checks the result.
func mergeHeaders(base, over []Header) ([]Header, error) {
	out := append([]Header(nil), base...)
	for _, h := range over {
		i := slices.IndexFunc(out, func(b Header) bool { return EnvName(b.Key) == EnvName(h.Key) })
		if i >= 0 {
			out[i] = h
		} else {
			out = append(out, h)
		}
	}
	return out, checkHeaders(out)
}

// Commit makes what was written to the output a message of the target
// queue, with the input's priority, time to live and headers, and returns
// its ID. The claim is then moved: it is still held, and [Queue.Ack] ends
// it. A crash at any point leaves either the input in its queue and no
// output, or the output in the target queue once; recovery of the input's
// queue ([Queue.Recover]) completes a move whose mover died after it began
// the handover. When Commit returns an ID, the output was handed over, even
// if it also returns an error (a sync that failed after the handover): end
// the claim with Ack. When it returns no ID, the claim is as it was, in
// cur/, or, if even that could not be done, left for recovery to finish.
func (o *Output) Commit() (ID, error) {
	if o.done {
		return "", fmt.Errorf("output of %s: committed or aborted already", o.c.name.ID)
	}
	o.done = true
	return o.c.move(o.to, o.headers, func(staged string) error {
		// Renamed first, then synced: on a journaling filesystem the
		// file's fsync then commits its new name too, and the sync of
		// tmp/ that follows costs next to nothing.
		err := rename(o.path, staged)
		if err == nil {
			err = fsync("fsync", o.f)
		}
		if cerr := o.f.Close(); err == nil {
			err = cerr
		}
		return err
	}, o.path)
}

// Abort drops the output; the claim is left as it is. It is safe after
// Commit, and more than once.
func (o *Output) Abort() {
	if o.done {
		return
	}
	o.done = true
	o.f.Close()
	remove(o.path)
}

// MoveTo moves the claimed message to the queue to, as a new message with
// its body (a second name of its file: nothing is copied), priority, time
// to live and headers, and returns its ID there. The claim is then moved,
// and [Queue.Ack] ends it. A crash at any point leaves the message either
// in this queue or in to, once (see [Output.Commit]).
func (c *Claim) MoveTo(to *Queue) (ID, error) {
	if err := c.checkTarget(to); err != nil {
		return "", err
	}
	if err := to.Create(); err != nil {
		return "", err
	}
	return c.move(to, nil, func(staged string) error {
		err := link(c.path, staged)
		if errors.Is(err, fs.ErrExist) {
			// Left by an earlier attempt: replaced.
			if sameFile(c.path, staged) {
				return nil
			}
			if err = remove(staged); err == nil {
				err = link(c.path, staged)
			}
		}
		return err
	}, "")
}

// move stages the output with stage, then moves the claim: see the steps
// at the top of this file. tmp is a file to remove on failure.
func (c *Claim) move(to *Queue, headers []Header, stage func(staged string) error, tmp string) (ID, error) {
	staged := filepath.Join(to.tmp, stageName(c.q.name, c.name.ID))
	fail := func(err error) (ID, error) {
		if tmp != "" {
			remove(tmp)
		}
		return "", fmt.Errorf("move %s to %s: %w", c.name.ID, to.name, err)
	}
	if err := c.stageMeta(staged+stageMeta, headers); err != nil {
		return fail(err)
	}
	if err := stage(staged); err != nil {
		return fail(err)
	}
	if err := to.sync(to.tmp); err != nil {
		return fail(err)
	}
	if crashAt("staged") {
		return "", errCrashed
	}
	moving := filepath.Join(c.q.dir, dirMoving, to.name)
	entry := filepath.Join(moving, c.name.String())
	if err := c.intend(moving, entry); err != nil {
		if c.path == entry && c.unintend(entry) != nil {
			// Still in .moving/: recovery hands the staged output over.
			return "", fmt.Errorf("move %s to %s: %w", c.name.ID, to.name, err)
		}
		remove(staged)
		return fail(err)
	}
	if crashAt("intent") {
		return "", errCrashed
	}
	id, err := to.handOver(staged, c.name)
	if id != "" {
		// Handed over, even if a sync failed after: the claim is
		// moved, and its Ack ends it.
		return id, err
	}
	if err != nil {
		if errors.Is(err, errNotStaged) {
			// Someone removed the staged file: nothing was handed over.
			err = fmt.Errorf("%w: %w", errNotStaged, c.unintend(entry))
		} else if uerr := c.unintend(entry); uerr == nil {
			remove(staged)
			remove(staged + stageMeta)
		}
		return fail(err)
	}
	return id, nil
}

// stageMeta writes, or removes, the metadata of the staged output at path:
// the claim's headers, with over over them, and, for a request, its reply
// address. It is written before the staged output, and synced with it.
func (c *Claim) stageMeta(path string, over []Header) error {
	headers, err := c.Headers()
	if err != nil {
		return err
	}
	if headers, err = mergeHeaders(headers, over); err != nil {
		return err
	}
	m := Meta{Headers: headers}
	if c.name.Request {
		rq, id := c.ReplyTo()
		m.ReplyQueue, m.ReplyID = rq.name, id
	}
	if len(headers) == 0 && m.ReplyQueue == "" {
		if err := remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return c.q.writeFile(path, m.encode(), true)
}

// intend renames the claimed file from cur/ to entry, under .moving/, and
// makes that durable. The claim's lock goes with the file.
func (c *Claim) intend(moving, entry string) error {
	if err := os.MkdirAll(moving, 0o700); err != nil {
		return err
	}
	if err := renameNoReplace(c.path, entry); err != nil {
		return err
	}
	c.path = entry
	return c.q.sync(moving)
}

// unintend puts a claim whose handover failed back into cur/.
func (c *Claim) unintend(entry string) error {
	back := filepath.Join(c.q.cur, c.name.String())
	if err := renameNoReplace(entry, back); err != nil {
		return err
	}
	c.path = back
	return c.q.sync(c.q.cur)
}

// errNotStaged reports a handover whose staged output is gone.
var errNotStaged = errors.New("the staged output is gone")

// handOver makes the output staged at staged a message of q, named as
// the input called in was (priority, time to live), under q's commit lock
// as a send's commit does: an ID given at commit, the staged metadata
// linked to .meta/ID and synced, the rename into new/, and the directories
// synced. It returns the new message's ID once the rename is made, with
// the error of a sync that failed after it; errNotStaged, with nothing
// done, when there is no staged file.
func (q *Queue) handOver(staged string, in Name) (ID, error) {
	c := committer{q: q}
	defer c.close()
	if err := c.lock(); err != nil {
		return "", err
	}
	fi, err := os.Lstat(staged)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", errNotStaged
		}
		return "", err
	}
	send, at := c.next(in.Priority)
	out := Name{ID: formatID(send), Priority: in.Priority, Group: in.Group, Expires: in.Expires, Request: in.Request}
	meta, err := q.linkMeta(staged+stageMeta, out.ID)
	if err != nil {
		return "", err
	}
	out.Meta = meta
	dirs := map[string]bool{}
	err = q.place(staged, out, at, dirs)
	c.unlock()
	if err != nil {
		if meta {
			q.removeMeta(out.ID)
		}
		if errors.Is(err, fs.ErrNotExist) {
			err = errNotStaged
		}
		return "", err
	}
	q.adjust(1, fi.Size())
	hook("move-handed-over", staged)
	remove(staged + stageMeta)
	poke(q.new)
	if !q.opts.NoSync {
		if err := syncDirs(dirs); err != nil {
			return out.ID, err
		}
	}
	return out.ID, nil
}

// linkMeta gives the message id the staged metadata at path, if there is
// any, as a second name .meta/ID, made durable; the staged name stays, so
// that a handover tried again finds it.
func (q *Queue) linkMeta(path string, id ID) (bool, error) {
	dir := filepath.Join(q.dir, dirMeta)
	err := link(path, q.metaPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Lstat(path); errors.Is(serr, fs.ErrNotExist) {
			return false, nil
		}
		if _, err = q.ownDir(dirMeta); err == nil {
			err = link(path, q.metaPath(id))
		}
	}
	if err != nil {
		return false, fmt.Errorf("metadata of %s: %w", id, err)
	}
	return true, q.sync(dir)
}
