package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"pq/queue"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// State is where a message is in its life, as a listing sees it (see
// [queue.State]): ready in new/, delayed in .due/ (or in new/ under a
// name whose due time is still to come, left there by an older pq), in
// flight in cur/, dead in dlq/.
type State = queue.State

// The states of a message.
const (
	StateReady    = queue.StateReady
	StateDelayed  = queue.StateDelayed
	StateInflight = queue.StateInflight
	StateDead     = queue.StateDead
)

// States lists every state in the order [Queue.Messages] walks them.
var States = queue.States

// numStates is how many states there are.
const numStates = int(StateDead) + 1

// ParseState returns the state called s, and false for any other name.
func ParseState(s string) (State, bool) { return queue.ParseState(s) }

// Entry is a message as a listing sees it: its name, where it is, and
// what one lstat of its file says. A listing never opens a body.
type Entry struct {
	Name    Name
	State   State
	Size    int64
	ModTime time.Time
	// Path is the file's path relative to the queue directory.
	Path string
	// UID is the owner of the file: the message's sender (see
	// [Claim.SenderUID]).
	UID uint32
}

// Sent returns the message's send time: the time in its ID, or, for a
// file that another program put in under a name of its own, its
// modification time.
func (e Entry) Sent() time.Time {
	if t, ok := IDTime(e.Name.ID); ok {
		return t
	}
	return e.ModTime
}

// Messages returns the queue's messages in the states given (all of them
// when none is), one state after the other in the order of [States], as
// an iterator that lists each directory only when it gets there, so that
// a loop that breaks early pays only for what it saw. Ready messages come
// in the order receivers take them: the trees of the priorities from the
// highest down, each in bucket and name order (a receiver passes by a
// message whose group is busy, or that has expired, and so may take
// another first); delayed ones in order of due time; claimed and dead
// ones in name order, which is send time order for names pq made.
//
// It takes no locks and changes nothing: it neither promotes due messages
// nor removes drained buckets nor moves strays aside, so a file that is
// not a regular file is left out, and a regular file anywhere under new/
// is listed where it lies, as the message that a receiver would make of
// it. What it yields is a snapshot of each directory as it lists it;
// messages move meanwhile, and a message that moved between two
// directories may be seen twice or not at all. A message that an older
// pq left in new/ with a due time still to come is listed as delayed, but
// only when ready messages are listed too, where it lies.
func (q *Queue) Messages(states ...State) iter.Seq2[Entry, error] {
	if len(states) == 0 {
		states = States
	}
	want := [numStates]bool{}
	for _, s := range states {
		if s >= 0 && int(s) < len(want) {
			want[s] = true
		}
	}
	return func(yield func(Entry, error) bool) {
		if err := q.checkFormat(); err != nil {
			yield(Entry{}, err)
			return
		}
		w := &walk{q: q, want: want, now: now().UnixNano(), yield: yield}
		steps := []struct {
			s  State
			fn func() error
		}{
			{StateReady, w.ready},
			{StateDelayed, w.delayed},
			{StateInflight, func() error { return w.flat(q.cur, dirCur, StateInflight) }},
			{StateDead, func() error { return w.flat(q.dlq, dirDLQ, StateDead) }},
		}
		for _, st := range steps {
			if !want[st.s] {
				continue
			}
			err := st.fn()
			if errors.Is(err, errStopWalk) {
				return
			}
			if err != nil {
				yield(Entry{}, q.missing(fmt.Errorf("list %s: %w", q.name, err)))
				return
			}
		}
	}
}

// errStopWalk ends a walk whose consumer stopped.
var errStopWalk = errors.New("walk stopped")

// walk is one run of Messages.
type walk struct {
	q     *Queue
	ls    lister
	want  [numStates]bool
	now   int64
	yield func(Entry, error) bool
}

// ready walks the trees of new/ from the highest priority down.
func (w *walk) ready() error {
	top, err := w.ls.list(w.q.new, "")
	if err != nil {
		return err
	}
	var trees [MaxPriority + 1]bool
	var own []entry
	for _, e := range top {
		if p, ok := treePriority(e.name); ok && e.typ == fs.ModeDir {
			trees[p] = true
			continue
		}
		own = append(own, e)
	}
	for p := MaxPriority; p >= MinPriority; p-- {
		switch {
		case p == DefaultPriority:
			err = w.entries(w.q.new, dirNew, own, StateReady)
		case trees[p]:
			err = w.tree(filepath.Join(w.q.new, treeName(p)), dirNew+"/"+treeName(p), StateReady)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// delayed walks .due/, whose buckets sort by due time.
func (w *walk) delayed() error {
	err := w.tree(w.q.due, dirDue, StateDelayed)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil // no message was ever delayed
	}
	return err
}

// tree walks the directory dir (rel from the queue directory) and
// everything under it, in name order.
func (w *walk) tree(dir, rel string, s State) error {
	ents, err := w.ls.list(dir, "")
	if err != nil {
		return err
	}
	return w.entries(dir, rel, ents, s)
}

// entries yields the regular files among ents, the entries of dir, and
// walks into its directories, in order.
func (w *walk) entries(dir, rel string, ents []entry, s State) error {
	for _, e := range ents {
		typ, err := kind(dir, e)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		path, erel := filepath.Join(dir, e.name), rel+"/"+e.name
		switch {
		case typ.IsDir():
			err := w.tree(path, erel, s)
			if errors.Is(err, fs.ErrNotExist) {
				continue // taken and removed meanwhile
			}
			if err != nil {
				return err
			}
		case typ.IsRegular():
			if err := w.file(path, erel, e.name, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// flat yields the messages of a directory without buckets: cur/ or dlq/.
func (w *walk) flat(dir, rel string, s State) error {
	ents, err := w.ls.list(dir, "")
	if err != nil {
		return err
	}
	for _, e := range ents {
		if s == StateDead && strings.HasSuffix(e.name, reasonSuffix) {
			continue
		}
		if typ, err := kind(dir, e); err != nil || !typ.IsRegular() {
			continue
		}
		if err := w.file(filepath.Join(dir, e.name), rel+"/"+e.name, e.name, s); err != nil {
			return err
		}
	}
	return nil
}

// file yields the message file at path, unless its state is not wanted
// or it has gone meanwhile.
func (w *walk) file(path, rel, base string, s State) error {
	n := ParseName(base)
	if s == StateReady && n.Due > w.now {
		s = StateDelayed
	}
	if !w.want[s] {
		return nil
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	e := Entry{Name: n, State: s, Size: fi.Size(), ModTime: fi.ModTime(), Path: rel, UID: fileOwner(fi)}
	if !w.yield(e, nil) {
		return errStopWalk
	}
	return nil
}

// Headers returns the headers of the message e, read from its metadata
// file, without opening its body. A message whose metadata file is gone
// (acked meanwhile) has none.
func (q *Queue) Headers(e Entry) ([]Header, error) {
	if !e.Name.Meta {
		return nil, nil
	}
	m, err := q.readMeta(e.Name.ID)
	return m.Headers, err
}

// Reason returns the recorded reason of the dead letter e; the zero
// Reason when none was recorded.
func (q *Queue) Reason(e Entry) (Reason, error) {
	return readReason(filepath.Join(q.dlq, string(e.Name.ID)+reasonSuffix))
}

// OpenBody opens the body of the message e for reading, without claiming
// it or changing anything: never blocking, never following a link, and
// refusing anything but a regular file. The message may be claimed,
// acked or moved meanwhile; the open file still reads the body it had.
// A message gone before the open reports an error matching
// fs.ErrNotExist.
func (q *Queue) OpenBody(e Entry) (*os.File, error) {
	f, err := openFD(filepath.Join(q.dir, e.Path), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", e.Path, fs.ErrNotExist)
	}
	return f, nil
}

// Peek finds the message of ID id in any state, or, when id is empty, the
// first ready message in receiving order that has not expired, and opens
// its body as [Queue.OpenBody] does. It claims nothing and changes
// nothing. It reports ErrEmpty when no message is ready, and an error
// matching ErrNoMessage when no message has that ID.
func (q *Queue) Peek(id ID) (Entry, *os.File, error) {
	states := States
	if id == "" {
		states = []State{StateReady}
	}
	for e, err := range q.Messages(states...) {
		if err != nil {
			return Entry{}, nil, err
		}
		if id != "" && e.Name.ID != id || id == "" && e.Name.Expires != 0 && e.Name.Expires <= now().UnixNano() {
			continue
		}
		f, err := q.OpenBody(e)
		if errors.Is(err, fs.ErrNotExist) {
			continue // claimed or moved meanwhile: the next one
		}
		if err != nil {
			return Entry{}, nil, fmt.Errorf("peek %s: %w", q.name, err)
		}
		return e, f, nil
	}
	if id != "" {
		return Entry{}, nil, fmt.Errorf("peek %s: %s: %w", q.name, id, ErrNoMessage)
	}
	return Entry{}, nil, ErrEmpty
}

// Queues returns the names of the queues under root, in name order: the
// directories there whose names are valid queue names and that hold a
// queue's subdirectories. A missing root holds none.
func Queues(root string) ([]string, error) {
	var l lister
	ents, err := l.list(root, "")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	var out []string
	for _, e := range ents {
		if ValidName(e.name) != nil {
			continue
		}
		if typ, err := kind(root, e); err != nil || !typ.IsDir() {
			continue
		}
		q, err := Open(root, e.name, Options{})
		if err != nil || q.Check() != nil {
			continue
		}
		out = append(out, e.name)
	}
	return out, nil
}

// fileOwner returns the owner of the file that fi describes.
func fileOwner(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return 0
}
