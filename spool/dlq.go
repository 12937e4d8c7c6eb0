package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"pq/queue"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// reasonSuffix ends the name of the file in dlq/ that says why a dead
// letter is there: dlq/ID.reason beside dlq/NAME. No ID that pq makes ends
// so, since a host name is cut to letters, digits and '-'.
const reasonSuffix = ".reason"

// Reason says why a message was dead-lettered.
type Reason = queue.Reason

// DeadLetter is a message in dlq/.
type DeadLetter struct {
	Name   Name
	Path   string
	Size   int64
	Reason Reason // zero when no reason was recorded
	// Original is the name the file had when pq found it in new/ under a
	// name it could not use and gave it an ID; empty for a message pq sent.
	Original string
	// Headers are the message's headers.
	Headers []Header
}

// DeadLetter ends a claim by moving the message to dlq/, with reason
// recorded beside it in a file of its own. The body is kept intact; dead
// letters are moved, never deleted. The attempt count in the name includes
// the delivery that failed, unless reason.Untried says there was none.
func (c *Claim) DeadLetter(reason Reason) error {
	defer c.f.Close()
	defer func() { c.group.release(); c.group = nil }()
	n := c.name
	if !reason.Untried {
		n = withAttempt(n)
	}
	if reason.Attempts == 0 {
		reason.Attempts = n.Attempts
	}
	if reason.Time.IsZero() {
		reason.Time = now()
	}
	// The message first, then its reason: a crash in between leaves a
	// dead letter without its record, never a record without its letter.
	to := filepath.Join(c.q.dlq, n.String())
	if err := renameNoReplace(c.path, to); err != nil {
		return fmt.Errorf("dead-letter %s: %w", n.ID, err)
	}
	c.q.adjust(-1, -c.size) // dead letters are not counted
	if err := c.q.writeReason(n.ID, reason); err != nil {
		return err
	}
	if err := c.q.sync(c.q.dlq); err != nil {
		return fmt.Errorf("dead-letter %s: %w", n.ID, err)
	}
	// Out of cur/ and of where it was claimed from, durably too: else a
	// power cut could bring it back beside its dead letter.
	if err := c.q.sync(c.q.cur); err != nil {
		return fmt.Errorf("dead-letter %s: %w", n.ID, err)
	}
	if err := c.q.syncSources(c); err != nil {
		return fmt.Errorf("dead-letter %s: %w", n.ID, err)
	}
	if n.Request {
		rq, id := c.ReplyTo()
		rq.tellRequester(id, reason)
	}
	c.settleGroup(hold{}, false) // its group moves on
	return nil
}

// writeReason stores r durably as dlq/ID.reason, replacing an older one.
func (q *Queue) writeReason(id ID, r Reason) error {
	return q.writeReasonTo(id, r, reasonSuffix, filepath.Join(q.dlq, string(id)+reasonSuffix))
}

// writeReasonTo stores r durably at the path to, through tmp/ID+suffix.
func (q *Queue) writeReasonTo(id ID, r Reason, suffix, to string) error {
	tmp := filepath.Join(q.tmp, string(id)+suffix)
	f, err := openFD(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("dead-letter %s: %w", id, err)
	}
	w := bufio.NewWriter(writerOf(f))
	fmt.Fprintf(w, "time: %s\nattempts: %d\ncause: %s\n", r.Time.UTC().Format(time.RFC3339Nano), r.Attempts, oneLine(r.Cause))
	if r.Stderr != "" {
		fmt.Fprintf(w, "stderr:\n%s", r.Stderr)
		if !strings.HasSuffix(r.Stderr, "\n") {
			w.WriteByte('\n')
		}
	}
	err = w.Flush()
	if err == nil && !q.opts.NoSync {
		err = fsync("fsync", f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rename(tmp, to)
	}
	if err != nil {
		remove(tmp)
		return fmt.Errorf("dead-letter %s: %w", id, err)
	}
	return nil
}

// oneLine folds s onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// readReason parses a reason file; a missing one gives the zero Reason.
func readReason(path string) (Reason, error) {
	var r Reason
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadString('\n')
		key, val, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		switch key {
		case "time":
			r.Time, _ = time.Parse(time.RFC3339Nano, val)
		case "attempts":
			r.Attempts, _ = strconv.Atoi(val)
		case "cause":
			r.Cause = val
		case "stderr:":
			rest, _ := io.ReadAll(br)
			r.Stderr = string(rest)
			return r, nil
		}
		if err != nil {
			return r, nil
		}
	}
}

// DeadLetters lists the messages in dlq/, oldest first by send time, with
// the reasons recorded for them.
func (q *Queue) DeadLetters() ([]DeadLetter, error) {
	ents, err := os.ReadDir(q.dlq)
	if err != nil {
		return nil, q.missing(fmt.Errorf("dead letters of %s: %w", q.name, err))
	}
	var out []DeadLetter
	for _, e := range ents {
		base := e.Name()
		if strings.HasPrefix(base, ".") || strings.HasSuffix(base, reasonSuffix) || !e.Type().IsRegular() {
			continue
		}
		d := DeadLetter{Name: ParseName(base), Path: filepath.Join(q.dlq, base)}
		if fi, err := e.Info(); err == nil {
			d.Size = fi.Size()
		}
		d.Reason, err = readReason(filepath.Join(q.dlq, string(d.Name.ID)+reasonSuffix))
		if err != nil {
			return nil, fmt.Errorf("dead letters of %s: %w", q.name, err)
		}
		if d.Name.Meta {
			m, err := q.readMeta(d.Name.ID)
			if err != nil {
				return nil, fmt.Errorf("dead letters of %s: %w", q.name, err)
			}
			d.Original, d.Headers = m.OriginalName, m.Headers
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b DeadLetter) int { return strings.Compare(string(a.Name.ID), string(b.Name.ID)) })
	return out, nil
}

// Redrive moves dead letters back to new/ with their attempt counts reset,
// each to its place by send time, so that they keep their original order. It
// moves the ones whose IDs are given, or all of them when none is, and
// returns the IDs it moved. An ID that is not in dlq/ is an error matching
// ErrNoMessage, and then nothing is moved.
func (q *Queue) Redrive(ids ...ID) ([]ID, error) {
	dead, err := q.DeadLetters()
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		byID := map[ID]DeadLetter{}
		for _, d := range dead {
			byID[d.Name.ID] = d
		}
		picked := make([]DeadLetter, 0, len(ids))
		for _, id := range ids {
			d, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("redrive %s in %s: %w", id, q.name, ErrNoMessage)
			}
			picked = append(picked, d)
		}
		dead = picked
	}
	var moved []ID
	dirs := map[string]bool{}
	for _, d := range dead {
		n := Name{ID: d.Name.ID, Priority: d.Name.Priority, Group: d.Name.Group, Meta: d.Name.Meta, Extra: d.Name.Extra}
		// The record goes first, so that a crash leaves no record
		// behind without its letter.
		remove(filepath.Join(q.dlq, string(n.ID)+reasonSuffix))
		if err := q.placeBack(d.Path, n, dirs); err != nil {
			return moved, fmt.Errorf("redrive %s: %w", n.ID, err)
		}
		q.adjust(1, d.Size)
		moved = append(moved, n.ID)
	}
	if len(moved) > 0 && !q.opts.NoSync {
		dirs[q.dlq] = true
		if err := syncDirs(dirs); err != nil {
			return moved, fmt.Errorf("redrive: %w", err)
		}
	}
	if len(moved) > 0 {
		poke(q.new)
	}
	return moved, nil
}
