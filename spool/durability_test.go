package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// step is one durable step that traceFS reported.
type step struct{ op, path string }

// traceSteps records the durable steps of the rest of the test.
func traceSteps(t *testing.T) func() []step {
	t.Helper()
	var mu sync.Mutex
	var steps []step
	traceFS = func(op, path string) {
		mu.Lock()
		steps = append(steps, step{op, path})
		mu.Unlock()
	}
	t.Cleanup(func() { traceFS = nil })
	return func() []step {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(steps)
	}
}

// index returns the position of the first step with op on a path for
// which match holds, or -1.
func index(steps []step, op string, match func(string) bool) int {
	return slices.IndexFunc(steps, func(s step) bool { return s.op == op && match(s.path) })
}

// A single send: the file is synced before it is renamed, and after the
// rename its bucket and every parent up to new/ are synced, even when
// another sender made the bucket and may not have synced its parents yet.
func TestASendSyncsTheFileThenItsDirectories(t *testing.T) {
	at := time.Now()
	setClock(t, at)
	q := newQueue(t, Options{})
	if err := os.MkdirAll(filepath.Join(q.new, bucket(at.UnixNano())), 0o700); err != nil {
		t.Fatal(err)
	}
	steps := traceSteps(t)
	id, err := q.Send(strings.NewReader("durable"))
	if err != nil {
		t.Fatal(err)
	}
	got := steps()
	inTmp := func(p string) bool { return filepath.Dir(p) == q.tmp }
	create, fsync := index(got, "create", inTmp), index(got, "fsync", inTmp)
	rename := index(got, "rename", func(p string) bool { return strings.HasSuffix(p, string(id)) })
	if create < 0 || fsync < create || rename < fsync {
		t.Fatalf("steps %v: want create, fsync, rename in that order", got)
	}
	bucketDir := filepath.Dir(got[rename].path)
	for d := bucketDir; d != q.dir; d = filepath.Dir(d) {
		if i := index(got, "fsync-dir", func(p string) bool { return p == d }); i < rename {
			t.Errorf("steps %v: %s not synced after the rename", got, d)
		}
	}
}

// A bulk send opens its syncfs descriptor before it writes any file, so
// that write-back errors of the batch's files are reported to it; syncs
// before its renames and after them.
func TestABulkSendSyncsTheFilesystemBeforeAndAfterItsRenames(t *testing.T) {
	q := newQueue(t, Options{})
	steps := traceSteps(t)
	b := q.NewBatch()
	defer b.Close()
	for i := range bulkSync {
		if err := b.Add(strings.NewReader(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	got := steps()
	any := func(string) bool { return true }
	open, create := index(got, "open-syncfs", any), index(got, "create", any)
	first, rename := index(got, "syncfs", any), index(got, "rename", any)
	lastRename := -1
	for i, s := range got {
		if s.op == "rename" {
			lastRename = i
		}
	}
	second := lastRename + 1 + index(got[lastRename+1:], "syncfs", any)
	switch {
	case open < 0 || open > create:
		t.Fatalf("steps: the syncfs descriptor opened at %d, the first file created at %d", open, create)
	case first < 0 || first > rename:
		t.Fatalf("steps: first syncfs at %d, first rename at %d", first, rename)
	case second <= lastRename:
		t.Fatalf("steps: no syncfs after the last rename (%d)", lastRename)
	}
}

// failSyncfs makes the nth call of syncfs from now on fail with EIO.
func failSyncfs(t *testing.T, nth int) {
	t.Helper()
	saved := syncfsCall
	calls := 0
	syncfsCall = func(fd int) error {
		calls++
		if calls == nth {
			return unix.EIO
		}
		return saved(fd)
	}
	t.Cleanup(func() { syncfsCall = saved })
}

func TestABulkSendReportsWriteBackErrors(t *testing.T) {
	for _, nth := range []int{1, 2} {
		t.Run(fmt.Sprintf("syncfs %d fails", nth), func(t *testing.T) {
			q := newQueue(t, Options{})
			failSyncfs(t, nth)
			b := q.NewBatch()
			defer b.Close()
			for i := range bulkSync {
				b.Add(strings.NewReader(fmt.Sprint(i)))
			}
			ids, err := b.Commit()
			if !errors.Is(err, unix.EIO) || ids != nil {
				t.Fatalf("Commit = %d ids, %v; want no ids and EIO", len(ids), err)
			}
			assertEmptyDir(t, q.tmp)
			if nth == 1 {
				if s, _ := q.Stat(); s.Ready != 0 {
					t.Fatalf("%d messages in new/ after the data failed to sync", s.Ready)
				}
			}
		})
	}
}

// An atomic batch names its files within its directory and syncs that
// directory before the one rename that makes the batch visible, and then
// syncs the bucket the directory went into.
func TestAnAtomicBatchSyncsItsDirectoryBeforeItAppears(t *testing.T) {
	q := newQueue(t, Options{})
	steps := traceSteps(t)
	b := q.NewAtomicBatch()
	defer b.Close()
	addAll(t, b, SendOptions{}, "a", "b")
	stage := b.stage
	ids, err := b.Commit()
	if err != nil {
		t.Fatal(err)
	}
	got := steps()
	synced := index(got, "fsync-dir", func(p string) bool { return p == stage })
	publish := index(got, "rename", func(p string) bool { return strings.HasSuffix(p, string(ids[0])+",b=2") })
	if synced < 0 || publish < synced {
		t.Fatalf("steps %v: want the batch's directory synced before its rename into new/", got)
	}
	bucketDir := filepath.Dir(got[publish].path)
	if i := index(got, "fsync-dir", func(p string) bool { return p == bucketDir }); i < publish {
		t.Fatalf("steps %v: the bucket %s not synced after the batch went in", got, bucketDir)
	}
}

// A retry with a backoff records, durably, that its message holds its
// group before the message leaves cur/: after a crash of the machine, the
// group still waits for it.
func TestARetryThatBacksOffSyncsItsGroupsHold(t *testing.T) {
	q := newQueue(t, Options{})
	sendGroup(t, q, "g", "g1")
	r := q.NewReceiver()
	c, err := r.Claim()
	if err != nil {
		t.Fatal(err)
	}
	steps := traceSteps(t)
	if err := c.Retry(time.Hour); err != nil {
		t.Fatal(err)
	}
	got := steps()
	hold := index(got, "group", func(p string) bool { return p == filepath.Join(q.Dir(), dirGroups, "g") })
	move := index(got, "rename", func(p string) bool { return strings.HasPrefix(p, q.due) })
	if hold < 0 || move < hold {
		t.Fatalf("steps %v: want the group's file synced before the message goes to .due/", got)
	}
}
