package cmd_test

// The crash test of pq send --atomic. It is Linux only: it sees the steps
// of the send with inotify.

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAnAtomicSendIsAllOrNothing kills `pq send --atomic --lines` of
// 1,200 messages (more than the 1,000 at which a plain bulk send commits,
// and a batch that is synced with syncfs) at steps of its work that it
// shows in its queue's tmp/: as it writes its files into the directory of
// the batch (after the first, after half), as it names them there under
// the commit lock (after the first, after the last) and once that
// directory has left tmp/ for new/; and once not at all. Each time
// the queue then holds none of the batch or all of it, and a watcher that
// walks new/ all along, as a receiver does, never finds a part of it.
func TestAnAtomicSendIsAllOrNothing(t *testing.T) {
	t.Parallel()
	const total = 1200
	s := newSpool(t)
	var input strings.Builder
	for i := range total {
		fmt.Fprintf(&input, "line %d\n", i)
	}
	points := []struct {
		name    string
		step, n int // kill at the n-th step of that kind; -1: never
		sure    bool
	}{
		{"first-written", atomicWritten, 1, true},
		{"half-written", atomicWritten, total / 2, true},
		{"first-named", atomicNamed, 1, true},
		// The send may end before these kills land: little is left.
		{"all-named", atomicNamed, total, false},
		{"placed", atomicPlaced, 1, false},
		{"not-killed", -1, 0, false},
	}
	committed := 0
	for _, pt := range points {
		// On a loaded machine the watcher may see a step only once the
		// send is over: then a sure kill is tried again, twice at most.
		for try := 1; ; try++ {
			q := fmt.Sprintf("killed-%s-%d", pt.name, try)
			killed, n := runAtomicKill(t, s, q, input.String(), total, pt.step, pt.n)
			if pt.sure && !killed && try < 3 {
				t.Logf("%s: the send finished before its kill; trying again", q)
				continue
			}
			if pt.sure && !killed {
				t.Logf("%s: the send finished before its kill three times: a loaded machine", q)
			}
			switch {
			case n == total:
				committed++
			case n != 0 || !killed:
				t.Fatalf("%s: %d messages in the queue, want 0 or %d", q, n, total)
			}
			break
		}
	}
	if committed < 1 {
		t.Errorf("no send committed its batch, not even the one not killed")
	}
	t.Logf("%d of %d sends had committed their batch", committed, len(points))
}

// runAtomicKill runs an atomic send of input (total lines) to a new queue
// q, killing it at the n-th step of kind step (never for -1), checks that
// no receiver walking new/ meanwhile saw part of the batch, and returns
// whether the kill ended the send and how many messages the queue holds.
// It leaves the queue recovered.
func runAtomicKill(t *testing.T, s *spoolEnv, q, input string, total, step, n int) (bool, int) {
	t.Helper()
	s.run(t, nil, []int{0}, "init", q)
	procCh := make(chan *proc, 1)
	var once sync.Once
	stop := watchAtomicSend(t, s.dir(q, "tmp"), func(st, k int) {
		if st == step && k == n {
			once.Do(func() { (<-procCh).cmd.Process.Kill() })
		}
	})
	cmd := s.command("send", "--atomic", "--lines", q)
	cmd.Stdin = strings.NewReader(input)
	p := start(t, "sender "+q, cmd)
	procCh <- p
	seen := watch(s.dir(q, "new"), p.done)
	p.waitWithin(t, waitLimit)
	stop()
	killed := killedBySIGKILL(t, p, p.stderr.String)
	for _, m := range <-seen {
		if m != 0 && m != total {
			t.Errorf("%s: a receiver walking new/ during the send found %d messages", q, m)
		}
	}
	held := countMessages(s.dir(q, "new"))
	// What the killed sender left in tmp/ is never seen, and goes.
	s.run(t, nil, []int{0}, "recover", q)
	return killed, held
}

// Steps of an atomic send that watchAtomicSend reports.
const (
	atomicWritten = iota // a file created in the batch's directory in tmp/
	atomicNamed          // a file renamed within, or out of, that directory
	atomicPlaced         // the directory renamed out of tmp/
)

// watchAtomicSend watches tmp/ for the directory that an atomic send makes
// there (the first one only) and that directory for its files, and calls
// at, from a goroutine of its own, for each step of the send it sees, with
// the number of steps of that kind seen so far, until the returned stop is
// called. Files made in the directory before the watch on it is in place
// are not counted.
func watchAtomicSend(t *testing.T, tmp string, at func(step, n int)) (stop func()) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	top, err := unix.InotifyAddWatch(fd, tmp, unix.IN_CREATE|unix.IN_MOVED_FROM)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	file := os.NewFile(uintptr(fd), "inotify:"+tmp)
	done := make(chan struct{})
	var overflow, addErr error
	go func() {
		defer close(done)
		stage, stageWD := "", -1
		var counts [3]int
		readInotify(file, func(wd int, mask uint32, name string) {
			step := -1
			switch {
			case mask&unix.IN_Q_OVERFLOW != 0:
				overflow = fmt.Errorf("inotify lost events on %s: its queue overflowed", tmp)
			case wd == top && stage == "" && mask&(unix.IN_CREATE|unix.IN_ISDIR) == unix.IN_CREATE|unix.IN_ISDIR && strings.HasPrefix(name, ".atomic-"):
				stage = name
				var err error
				if stageWD, err = unix.InotifyAddWatch(fd, filepath.Join(tmp, name), unix.IN_CREATE|unix.IN_MOVED_FROM); err != nil {
					addErr = err
				}
			case wd == top && mask&unix.IN_MOVED_FROM != 0 && name == stage:
				step = atomicPlaced
			case wd == stageWD && mask&unix.IN_CREATE != 0:
				step = atomicWritten
			case wd == stageWD && mask&unix.IN_MOVED_FROM != 0:
				step = atomicNamed
			}
			if step >= 0 {
				counts[step]++
				at(step, counts[step])
			}
		})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			file.Close()
			<-done
			if overflow != nil {
				t.Error(overflow)
			}
			if addErr != nil {
				t.Errorf("watch the atomic send's directory in %s: %v", tmp, addErr)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// countMessages counts the message files under dir, as a receiver walking
// it at that moment would find them; a directory removed meanwhile is no
// error.
func countMessages(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// watch walks dir over and over, as a receiver would, until done is
// closed, and then sends the counts of messages it found.
func watch(dir string, done <-chan struct{}) <-chan []int {
	out := make(chan []int, 1)
	go func() {
		var seen []int
		for {
			select {
			case <-done:
				out <- append(seen, countMessages(dir))
				return
			default:
				if n := countMessages(dir); len(seen) == 0 || seen[len(seen)-1] != n {
					seen = append(seen, n)
				}
				time.Sleep(5 * time.Millisecond) // leave the sender a core
			}
		}
	}()
	return out
}
