package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// powerModel keeps, beside the real file system, what of it is durable,
// as a power cut would leave it: a file's data as of its last fsync (or
// syncfs), a directory's entries as of its last fsync (or syncfs);
// anything else is lost. It learns of each step through faultFS, before
// the step is taken, and can lay out at any moment, in another
// directory, the tree that a power cut then would leave (the approach of
// SQLite's crash-test VFS and of LazyFS, on top of the real file system).
type powerModel struct {
	top     string                       // the queue directory
	entries map[uint64]map[string]uint64 // directory inode: name to inode, as durable
	dirs    map[uint64]bool              // which inodes are directories
	data    map[uint64][]byte            // file inode: its durable data
}

func newPowerModel(t *testing.T, top string) *powerModel {
	m := &powerModel{top: top, entries: map[uint64]map[string]uint64{}, dirs: map[uint64]bool{}, data: map[uint64][]byte{}}
	m.syncAll(t)
	return m
}

func inode(path string) (uint64, bool, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, false, err
	}
	return st.Ino, st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

// syncDirEntries makes the entries of the directory at path durable.
func (m *powerModel) syncDirEntries(path string) {
	ino, _, err := inode(path)
	if err != nil {
		return
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return
	}
	names := map[string]uint64{}
	for _, e := range ents {
		child, isDir, err := inode(filepath.Join(path, e.Name()))
		if err != nil {
			continue
		}
		names[e.Name()] = child
		m.dirs[child] = isDir
	}
	m.entries[ino] = names
}

// syncData makes the data of the file at path durable.
func (m *powerModel) syncData(path string) {
	ino, isDir, err := inode(path)
	if err != nil || isDir {
		return
	}
	if b, err := os.ReadFile(path); err == nil {
		m.data[ino] = b
	}
}

// syncAll makes everything under the queue directory durable, as syncfs.
func (m *powerModel) syncAll(t *testing.T) {
	filepath.WalkDir(m.top, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			m.syncDirEntries(path)
		} else if d.Type().IsRegular() {
			m.syncData(path)
		}
		return nil
	})
	m.syncDirEntries(m.top)
}

// step takes note of a step about to be taken.
func (m *powerModel) step(t *testing.T, op, path string) {
	switch op {
	case "fsync":
		m.syncData(path)
	case "fsync-dir":
		m.syncDirEntries(path)
	case "syncfs":
		m.syncAll(t)
	}
}

// layOut writes into dst the tree that a power cut now would leave. A
// file with several durable names gets them all, as hard links: one
// file, as after a crash between the link and the unlink of a rename.
func (m *powerModel) layOut(dst string) error {
	ino, _, err := inode(m.top)
	if err != nil {
		return err
	}
	return m.layDir(dst, ino, map[uint64]string{})
}

func (m *powerModel) layDir(dst string, ino uint64, laid map[uint64]string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	for name, child := range m.entries[ino] {
		p := filepath.Join(dst, name)
		if m.dirs[child] {
			if err := m.layDir(p, child, laid); err != nil {
				return err
			}
			continue
		}
		if first, ok := laid[child]; ok {
			if err := os.Link(first, p); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(p, m.data[child], 0o600); err != nil {
			return err
		}
		laid[child] = p
	}
	return nil
}

// promise is what an operation that returned said was done: messages sent
// (by ID, with their bodies), and messages acked.
type promise struct {
	after int // the number of steps taken when it was made
	sent  map[ID]string
	acked []ID
	held  []ID // dead-lettered, or backing off for an hour: not to be delivered now
	until int  // for held: the steps taken when the redrive began, which frees them; 0: never
}

// A power cut after any single step of a run of sends (one, bulk,
// atomic), claims and acks, a retry, a dead letter, recovery and redrive:
// once the queue is recovered, every ID that an operation returned before
// the cut is there with its exact body and headers, unless its ack had
// returned; nothing is there that was not sent; no message is in two
// places.
func TestPowerLossAtEveryStepKeepsWhatWasPromised(t *testing.T) {
	q := newQueue(t, Options{})
	model := newPowerModel(t, q.Dir())
	cuts := t.TempDir()
	var mu sync.Mutex
	steps := 0
	// What a cut leaves changes only at a step that makes something
	// durable: the cut just before each such step stands for every cut
	// since the one before, and holds the most promises of them.
	var laid []int
	faultFS = func(op, path string) error {
		mu.Lock()
		defer mu.Unlock()
		steps++
		if op == "fsync" || op == "fsync-dir" || op == "syncfs" {
			if err := model.layOut(filepath.Join(cuts, fmt.Sprint(steps), "jobs")); err != nil {
				t.Errorf("lay out the cut before step %d: %v", steps, err)
			}
			laid = append(laid, steps)
		}
		model.step(t, op, path)
		return nil
	}
	defer func() { faultFS = nil }()
	var promises []promise
	bodies := map[string]bool{}
	keep := func(sent map[ID]string, acked ...ID) {
		mu.Lock()
		defer mu.Unlock()
		promises = append(promises, promise{after: steps, sent: sent, acked: acked})
	}
	send := func(body string) ID {
		bodies[body] = true
		id, err := q.SendWith(strings.NewReader(body), SendOptions{Headers: []Header{{Key: "Body", Value: body}}})
		if err != nil {
			t.Fatal(err)
		}
		keep(map[ID]string{id: body})
		return id
	}
	batch := func(b *Batch, bodies []string) {
		for _, body := range bodies {
			if err := b.AddWith(strings.NewReader(body), SendOptions{Headers: []Header{{Key: "Body", Value: body}}}); err != nil {
				t.Fatal(err)
			}
		}
		ids, err := b.Commit()
		if err != nil {
			t.Fatal(err)
		}
		sent := map[ID]string{}
		for i, id := range ids {
			sent[id] = bodies[i]
		}
		keep(sent)
		b.Close()
	}
	claim := func() *Claim {
		c, err := q.NewReceiver().Claim()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	a := send("alpha")
	var many []string
	for i := range bulkSync {
		many = append(many, fmt.Sprintf("bulk%03d", i))
	}
	for _, b := range many {
		bodies[b] = true
	}
	batch(q.NewBatch(), many)
	atomic := []string{"atom1", "atom2", "atom3"}
	for _, b := range atomic {
		bodies[b] = true
	}
	batch(q.NewAtomicBatch(), atomic)
	c := claim() // alpha
	if err := q.Ack(c); err != nil {
		t.Fatal(err)
	}
	keep(nil, a)
	claim().Retry(0)
	for _, settle := range []func(*Claim) error{
		func(c *Claim) error { return c.Retry(time.Hour) },
		func(c *Claim) error { return c.DeadLetter(Reason{Cause: "test"}) },
	} {
		c := claim()
		if err := settle(c); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		promises = append(promises, promise{after: steps, held: []ID{c.ID()}})
		mu.Unlock()
	}
	claim().f.Close() // a consumer dies
	if _, err := q.Recover(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for i := range promises {
		if promises[i].held != nil {
			promises[i].until = steps
		}
	}
	mu.Unlock()
	if _, err := q.Redrive(); err != nil {
		t.Fatal(err)
	}
	send("omega")
	faultFS = nil
	mu.Lock()
	defer mu.Unlock()
	model.layOut(filepath.Join(cuts, fmt.Sprint(steps+1), "jobs"))
	laid = append(laid, steps+1)
	t.Logf("%d steps, %d of them durable: a power cut before each of those, and at the end", steps, len(laid)-1)
	for _, cut := range laid {
		checkCut(t, filepath.Join(cuts, fmt.Sprint(cut)), cut-1, promises, bodies)
	}
}

// checkCut recovers the queue that a power cut after taken steps left in
// root, and checks it against the promises made by then.
func checkCut(t *testing.T, root string, taken int, promises []promise, bodies map[string]bool) {
	t.Helper()
	q, err := Open(root, "jobs", Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Recover(); err != nil {
		t.Errorf("cut after step %d: recover: %v", taken, err)
		return
	}
	found, seen := scanCut(t, q, taken, bodies, true)
	for body, n := range seen {
		if n > 1 {
			t.Errorf("cut after step %d: %q is in the queue %d times", taken, body, n)
		}
	}
	acked, held := map[ID]bool{}, map[ID]bool{}
	for _, p := range promises {
		if p.after <= taken {
			for _, id := range p.acked {
				acked[id] = true
			}
			for _, id := range p.held {
				held[id] = p.until == 0 || taken < p.until
			}
		}
	}
	for _, p := range promises {
		if p.after > taken {
			continue
		}
		for id, body := range p.sent {
			got, ok := found[id]
			switch {
			case acked[id] && ok:
				t.Errorf("cut after step %d: %s (%q) came back after its ack had returned", taken, id, body)
			case !acked[id] && !ok && seen[body] == 0:
				t.Errorf("cut after step %d: %s (%q) is lost", taken, id, body)
			case ok && got != body:
				t.Errorf("cut after step %d: %s holds %q, want %q", taken, id, got, body)
			}
		}
	}
	// What is ready is delivered once: a file left with two names by the
	// cut (its new place and its old one) is one message, whose stale
	// name the claim drops.
	r := q.NewReceiver()
	got := map[string]bool{}
	for {
		c, err := r.Claim()
		if errors.Is(err, ErrEmpty) {
			break
		}
		if err != nil {
			t.Errorf("cut after step %d: receive: %v", taken, err)
			return
		}
		if held[c.ID()] {
			t.Errorf("cut after step %d: %s was delivered, though dead-lettered or backing off before the cut", taken, c.ID())
		}
		b, _ := io.ReadAll(c.Body())
		if got[string(b)] {
			t.Errorf("cut after step %d: %q delivered twice", taken, b)
		}
		got[string(b)] = true
		q.Ack(c)
	}
	_, left := scanCut(t, q, taken, bodies, false)
	for body := range left {
		if got[body] {
			t.Errorf("cut after step %d: %q was delivered and is still in the queue", taken, body)
		}
	}
}

// scanCut returns the messages in q by ID, with their bodies, and how
// many files hold each body; the names of one file count once.
func scanCut(t *testing.T, q *Queue, taken int, bodies map[string]bool, check bool) (map[ID]string, map[string]int) {
	found := map[ID]string{}
	seen := map[string]int{}
	files := map[uint64]bool{}
	for _, dir := range []string{q.new, q.due, q.cur, q.dlq} {
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") || strings.HasSuffix(d.Name(), reasonSuffix) {
				return nil
			}
			ino, _, err := inode(path)
			if err != nil {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			n := ParseName(d.Name())
			found[n.ID] = string(b)
			if files[ino] {
				return nil
			}
			files[ino] = true
			seen[string(b)]++
			if !check {
				return nil
			}
			if !bodies[string(b)] {
				t.Errorf("cut after step %d: %s holds %q, which was never sent", taken, path, b)
			}
			if n.Meta {
				m, err := q.readMeta(n.ID)
				if err != nil || len(m.Headers) != 1 || m.Headers[0].Value != string(b) {
					t.Errorf("cut after step %d: %s: headers %+v, %v", taken, path, m.Headers, err)
				}
			}
			return nil
		})
	}
	return found, seen
}
