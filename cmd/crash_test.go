//go:build linux

package cmd_test

// Crash tests of the moves that follow a claim: a worker's ack, retry and
// dead letter, recovery, and pq retry, each SIGKILLed at moments that vary
// from round to round. After every kill they check the queue as a whole, file
// by file: no message lost, none in two places at once, every body intact.
//
// The file is Linux only: it reads /proc (procStat), watches with inotify
// and sizes a pipe with F_SETPIPE_SZ.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"pq/spool"
)

// crashBody is the body of message i in these tests: "m0042:" and the
// SHA-256 of "m0042" in hex, so that a body checks itself and names its
// message.
func crashBody(i int) string {
	n := fmt.Sprintf("m%04d", i)
	sum := sha256.Sum256([]byte(n))
	return n + ":" + hex.EncodeToString(sum[:])
}

// sendCrashBodies sends crashBody(0) to crashBody(n-1) to q with one 'pq
// send --lines' and returns the IDs in send order and the index of each.
func (s *spoolEnv) sendCrashBodies(t *testing.T, q string, n int) (ids []string, index map[string]int) {
	t.Helper()
	var in strings.Builder
	for i := range n {
		in.WriteString(crashBody(i))
		in.WriteByte('\n')
	}
	out, _ := s.runPQ(t, in.String(), []int{0}, "send", "--lines", q)
	ids, frag := splitLines([]byte(out))
	if len(ids) != n || frag != "" {
		t.Fatalf("send printed %d ids (fragment %q), want %d", len(ids), frag, n)
	}
	index = map[string]int{}
	for i, id := range ids {
		if _, dup := index[id]; dup {
			t.Fatalf("send printed id %s twice", id)
		}
		index[id] = i
	}
	return ids, index
}

// queueScan is what a queue holds, by message ID (the part of a file name
// before its first comma): the file's path relative to new/, cur/ or dlq/.
type queueScan struct {
	new, cur, dlq map[string]string
	reasons       map[string]bool // IDs that have a dlq/ID.reason
	poison        map[string]bool // IDs dead-lettered as poison messages
	tmp           []string
}

// scanQueue reads every message file of q, in new/ (all buckets), cur/ and
// dlq/, with no process touching the queue. It reports an error for a file
// whose ID was never sent, a body that is not the one sent with its ID, and
// an ID found in more than one place.
func (s *spoolEnv) scanQueue(t *testing.T, q string, index map[string]int) queueScan {
	t.Helper()
	sc := queueScan{new: map[string]string{}, cur: map[string]string{}, dlq: map[string]string{}, reasons: map[string]bool{}, poison: map[string]bool{}}
	where := map[string]string{}
	add := func(sub, rel string, into map[string]string) {
		id, _, _ := strings.Cut(filepath.Base(rel), ",")
		b, err := os.ReadFile(filepath.Join(s.dir(q, sub), rel))
		if err != nil {
			t.Fatal(err)
		}
		i, ok := index[id]
		switch {
		case !ok:
			t.Errorf("%s/%s: no message was sent with that ID (body %.40q)", sub, rel, b)
		case string(b) != crashBody(i):
			t.Errorf("%s/%s holds %q, want the body sent with its ID, %q", sub, rel, b, crashBody(i))
		}
		if prev, dup := where[id]; dup {
			t.Errorf("message %s is in two places: %s and %s/%s", id, prev, sub, rel)
		}
		where[id] = sub + "/" + rel
		into[id] = rel
	}
	for _, rel := range files(t, s.dir(q, "new")) {
		add("new", rel, sc.new)
	}
	for _, rel := range files(t, s.dir(q, ".due")) {
		add(".due", rel, sc.new)
	}
	for _, n := range names(t, s.dir(q, "cur")) {
		add("cur", n, sc.cur)
	}
	for _, n := range names(t, s.dir(q, "dlq")) {
		if id, ok := strings.CutSuffix(n, ".reason"); ok {
			sc.reasons[id] = true
			b, err := os.ReadFile(filepath.Join(s.dir(q, "dlq"), n))
			if err != nil {
				t.Fatal(err)
			}
			sc.poison[id] = strings.Contains(string(b), "\ncause: too many attempts\n")
			continue
		}
		add("dlq", n, sc.dlq)
	}
	sc.tmp = names(t, s.dir(q, "tmp"))
	return sc
}

// isPoison reports whether the dead letter id may be a poison message: its
// record says so, or it has no record (a kill came between the move and
// the record) and came with max_attempts attempts or more.
func (sc queueScan) isPoison(id string) bool {
	if sc.reasons[id] {
		return sc.poison[id]
	}
	return spool.ParseName(filepath.Base(sc.dlq[id])).Attempts >= crashMaxAttempts
}

// orphanReasons returns the IDs of reason files in dlq/ whose dead letters
// are not there.
func (sc queueScan) orphanReasons() []string {
	var out []string
	for id := range sc.reasons {
		if _, ok := sc.dlq[id]; !ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// flakyJob is the worker command of TestKilledWorkersNeverLoseOrDuplicateMessages.
// It prints "start PID ID" first, so that the test knows its process group,
// then settles the message by the last digit d of its number: d 0-4 succeed,
// d 5-6 fail (exit 3) on attempt 1 and succeed later, d 7-8 always fail and
// d 9 exit 100. Each failure says so on stderr. A success appends "ID BODY"
// to $T/acked with >>, then prints "ack ID", then exits 0: nothing is logged
// as acked that the worker could see fail, and an exit 0 is always logged.
const flakyJob = `echo "start $$ $PQ_ID"
IFS= read -r b
n=${b%%:*}
case ${n#"${n%?}"} in
[0-4]) ;;
[56]) if [ "$PQ_ATTEMPT" -eq 1 ]; then echo "fail $PQ_ID attempt $PQ_ATTEMPT" >&2; exit 3; fi ;;
[78]) echo "fail $PQ_ID attempt $PQ_ATTEMPT" >&2; exit 3 ;;
*) echo "permanent $PQ_ID" >&2; exit 100 ;;
esac
echo "$PQ_ID $b" >>"$T/acked"
echo "ack $PQ_ID"
exit 0`

// Classes of flakyJob by the last digit of a message's number.
func ackedClass(i int) bool { return i%10 <= 6 } // acked, at the latest on attempt 2
func deadClass(i int) bool  { return i%10 >= 7 } // dead-lettered, never acked

// readAcked reads $T/acked: how often the command logged each ID as done. A
// line whose body is not the one sent with its ID is an error: the command
// was given the wrong body.
func readAcked(t *testing.T, path string, index map[string]int) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]int{}
	}
	if err != nil {
		t.Fatal(err)
	}
	lines, frag := splitLines(b)
	if frag != "" {
		t.Errorf("the acked log ends in a fragment %q", frag)
	}
	acked := map[string]int{}
	for _, l := range lines {
		id, body, _ := strings.Cut(l, " ")
		i, ok := index[id]
		if !ok || body != crashBody(i) {
			t.Errorf("the command logged %q as done: not an ID sent with that body", l)
			continue
		}
		acked[id]++
	}
	return acked
}

// streamLine is a line that a killable process wrote to stdout or stderr.
type streamLine struct {
	stderr bool
	text   string
}

// startKillable starts pq with args as the leader of a process group of its
// own, its stdout and stderr on pipes, and returns the lines that come out
// of them. The channel is closed once both pipes are at their end: when pq
// and every job that inherited its stdout have exited. The caller must read
// it to the end.
func (s *spoolEnv) startKillable(t *testing.T, name string, args ...string) (*proc, <-chan streamLine) {
	t.Helper()
	outR, outW := pipe(t)
	errR, errW := pipe(t)
	cmd := s.command(args...)
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	err := cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		err := cmd.Wait()
		p.err = err
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		<-p.done
	})
	lines := make(chan streamLine, 1<<12)
	var wg sync.WaitGroup
	read := func(r *os.File, stderr bool) {
		defer wg.Done()
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if l != "" {
				lines <- streamLine{stderr: stderr, text: strings.TrimSuffix(l, "\n")}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go read(outR, false)
	go read(errR, true)
	go func() {
		wg.Wait()
		close(lines)
	}()
	return p, lines
}

// killedBySIGKILL reports whether the exited process p died of SIGKILL; it
// fails the test unless p either did or exited 0.
func killedBySIGKILL(t *testing.T, p *proc, output func() string) bool {
	t.Helper()
	if p.err == nil {
		return false
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	t.Fatalf("%s ended with %v, want SIGKILL or exit 0; output:\n%s", p.name, p.err, output())
	return false
}

// killJob SIGKILLs the process group of a job whose shell printed pid, if
// that is still a running job: a shell leading its own group.
func killJob(pid int) {
	if comm, pgrp, state, ok := procStat(pid); ok && comm == "sh" && pgrp == pid && state != "Z" {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// TestKilledWorkersNeverLoseOrDuplicateMessages sends 300 self-checking
// messages, then runs 'pq recv --exec flakyJob -j 2' again and again with
// max_attempts 3 and a backoff of 1ms to 2ms, so that acks, retries (renames
// into new/ with ",a=N,d=T") and dead letters (reason file, then rename into
// dlq/) all go on at once, and SIGKILLs it each round at a different moment:
// after k lines on its stderr (failures of the command and the worker's
// "retry in" and "dead-lettered" lines, which it prints once the move is
// done) or after the command printed k acks (the command has exited 0, so the
// ack is pending or under way), k varying by round. The worker leads a
// process group of its own, and the whole group is killed; its jobs lead
// groups of their own (pq starts each with Setpgid), so the test kills those
// it saw start too, and waits for the rest to end, which releases their
// claims.
//
// After each kill, 'pq recover' runs, and then the queue must hold every
// message that is not done exactly once: cur/ empty; each message file, in
// new/ (any bucket) or dlq/, holding the body sent with its ID; no ID in two
// places; each dead letter with its reason beside it; tmp/ holding only the
// reason files of dead letters that a kill cut short. An ID missing from the
// queue must have been logged as acked by the command, which logs before it
// exits 0. An acked ID is never a dead letter, but it may be back in new/:
// a kill between the command's exit 0 and the removal of its file in cur/
// leaves the claim to recovery, and the message is delivered again. That is
// the documented at-least-once delivery, not an error.
//
// At the end, workers run without kills until the queue is empty. Then every
// message whose command succeeds was acked at least once and is not in dlq/,
// every message whose command fails for good is in dlq/ exactly once with
// its cause and was never acked, and 'pq retry --all' brings the dead
// letters back in send order with their bodies intact.
func TestKilledWorkersNeverLoseOrDuplicateMessages(t *testing.T) {
	t.Parallel()
	const (
		total = 300
		q     = "crash"
	)
	s := newSpool(t)
	T := jobDir(t, s)
	cfg := writeConfig(t, fmt.Sprintf("[queue.crash]\nmax_attempts = %d\nbackoff_min = \"1ms\"\nbackoff_max = \"2ms\"\n", crashMaxAttempts))
	ids, index := s.sendCrashBodies(t, q, total)
	ackLog := filepath.Join(T, "acked")
	workerArgs := []string{"--config", cfg, "recv", "--exec", flakyJob, "-j", "2", q}

	// When to kill, round by round: after k lines on stderr, or after k
	// acks printed by the command.
	rounds := []struct {
		stderr bool
		k      int
	}{
		{true, 1}, {false, 1}, {true, 5}, {false, 4}, {true, 12}, {false, 10}, {true, 30}, {false, 25}, {true, 2}, {false, 2},
		{true, 50}, {false, 15}, {true, 20}, {false, 35}, {true, 8}, {false, 6}, {true, 70}, {false, 20}, {true, 3}, {false, 3},
	}
	var killed, recoveredTotal int
	for round, r := range rounds {
		p, lines := s.startKillable(t, fmt.Sprintf("worker (round %d)", round+1), workerArgs...)
		pid := p.cmd.Process.Pid
		var out []string // what the worker and its jobs printed
		var jobs []int
		note := func(l streamLine) {
			out = append(out, l.text)
			if f := strings.Fields(l.text); !l.stderr && len(f) == 3 && f[0] == "start" {
				if n, err := strconv.Atoi(f[1]); err == nil {
					jobs = append(jobs, n)
				}
			}
		}
		output := func() string { return strings.Join(out, "\n") }

		deadline := time.NewTimer(stepLimit)
		count, open := 0, true
		for open && count < r.k {
			select {
			case l, ok := <-lines:
				if !ok {
					open = false // the worker finished on its own
					break
				}
				note(l)
				if l.stderr == r.stderr && (l.stderr || strings.HasPrefix(l.text, "ack ")) {
					count++
				}
			case <-deadline.C:
				t.Fatalf("round %d: no kill within %v; output:\n%s", round+1, stepLimit, output())
			}
		}
		// The worker first, so that it cannot see its jobs die and
		// settle their messages; then the jobs it had started.
		if !p.exited() {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
		select {
		case <-p.done:
		case <-deadline.C:
			t.Fatalf("round %d: the worker did not die within %v of SIGKILL", round+1, stepLimit)
		}
		for _, j := range jobs {
			killJob(j)
		}
		for open {
			select {
			case l, ok := <-lines:
				if !ok {
					open = false
					break
				}
				before := len(jobs)
				note(l)
				for _, j := range jobs[before:] {
					killJob(j)
				}
			case <-deadline.C:
				t.Fatalf("round %d: the worker's jobs did not end within %v", round+1, stepLimit)
			}
		}
		deadline.Stop()
		wasKilled := killedBySIGKILL(t, p, output)
		if wasKilled {
			killed++
		}

		rec, _ := s.runPQ(t, "", []int{0}, "recover", q)
		recLines, _ := splitLines([]byte(rec))
		recoveredTotal += len(recLines)
		sc := s.scanQueue(t, q, index)
		acked := readAcked(t, ackLog, index)
		for _, l := range recLines {
			id, ok := strings.CutPrefix(l, "recovered ")
			if _, inNew := sc.new[id]; !ok || !inNew {
				t.Errorf("round %d: pq recover printed %q, but that message is not in new/", round+1, l)
			}
		}
		checkAfterKill(t, fmt.Sprintf("round %d", round+1), ids, sc, acked)
		t.Logf("round %d: after %d %s: killed %v; %d recovered, %d in new/, %d in dlq/, %d acked, %d leftovers in tmp/, %d reasons without their dead letter",
			round+1, count, map[bool]string{true: "stderr lines", false: "acks"}[r.stderr], wasKilled,
			len(recLines), len(sc.new), len(sc.dlq), len(acked), len(sc.tmp), len(sc.orphanReasons()))
		if t.Failed() {
			t.FailNow()
		}
	}
	if killed == 0 || recoveredTotal == 0 {
		t.Errorf("%d of %d rounds killed the worker, and recovery put back %d claims: no kill landed while the worker held a claim",
			killed, len(rounds), recoveredTotal)
	}

	// Drain without kills. Without --wait a worker ends when nothing is
	// ready, which may leave retries backing off for a millisecond or two.
	deadline := time.Now().Add(stepLimit)
	for runs := 1; ; runs++ {
		s.runPQ(t, "", []int{0}, workerArgs...)
		if len(s.waiting(t, q)) == 0 {
			t.Logf("drained by %d more worker runs", runs)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new/ still holds %d messages after %d worker runs", len(s.waiting(t, q)), runs)
		}
	}
	sc := s.scanQueue(t, q, index)
	acked := readAcked(t, ackLog, index)
	checkAfterKill(t, "after the drain", ids, sc, acked)
	if len(sc.cur) > 0 || len(sc.new) > 0 {
		t.Errorf("after the drain %d messages are in new/ and %d in cur/, want none", len(sc.new), len(sc.cur))
	}
	var again, dead []string
	for i, id := range ids {
		_, inDLQ := sc.dlq[id]
		switch {
		case inDLQ && sc.isPoison(id):
			dead = append(dead, id) // a poison message: see checkAfterKill
		case ackedClass(i) && acked[id] == 0:
			t.Errorf("message %d (%s), whose command succeeds, was never acked", i, id)
		case deadClass(i) && !inDLQ:
			t.Errorf("message %d (%s), whose command fails for good, is not in dlq/", i, id)
		case deadClass(i):
			dead = append(dead, id)
			b, err := os.ReadFile(filepath.Join(s.dir(q, "dlq"), id+".reason"))
			if errors.Is(err, fs.ErrNotExist) {
				// A kill between the move into dlq/ and the record.
				t.Logf("dead letter %d (%s) has no record of why", i, id)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			reason := string(b)
			want := "cause: exit status 3\n"
			if i%10 == 9 {
				want = "cause: exit status 100 (permanent failure)\n"
			}
			if !strings.Contains(reason, want) {
				t.Errorf("the reason of dead letter %d (%s) lacks %q:\n%s", i, id, want, reason)
			}
		}
		if acked[id] > 1 {
			again = append(again, id)
		}
	}
	t.Logf("%d acked, %d of them more than once (redelivered after a kill: at least once); %d dead letters",
		len(acked), len(again), len(sc.dlq))

	// The dead letters come back whole and in send order.
	moved, _ := splitLines([]byte(stdoutOf(s.runPQ(t, "", []int{0}, "retry", "--all", q))))
	slices.Sort(moved)
	if !slices.Equal(moved, dead) {
		t.Errorf("pq retry --all moved %d messages, want the %d dead letters", len(moved), len(dead))
	}
	var want []string
	for _, id := range dead {
		want = append(want, crashBody(index[id]))
	}
	got, frag := splitLines([]byte(stdoutOf(s.runPQ(t, "", []int{0}, "recv", "--all", "--lines", q))))
	if !slices.Equal(got, want) || frag != "" {
		t.Errorf("the retried dead letters came back as %d bodies (fragment %q), want %d in send order; first %q",
			len(got), frag, len(want), head(got, 3))
	}
	if f := s.waiting(t, q); len(f) > 0 {
		t.Errorf("new/ still holds %q", head(f, 5))
	}
}

// stdoutOf returns the stdout of runPQ, dropping its stderr.
func stdoutOf(stdout, _ string) string { return stdout }

// checkAfterKill checks what the queue holds once pq recover ran after a
// kill, against the messages sent (ids, in send order) and those the command
// logged as acked.
// crashMaxAttempts is max_attempts in TestKilledWorkersNeverLoseOrDuplicateMessages.
const crashMaxAttempts = 3

func checkAfterKill(t *testing.T, when string, ids []string, sc queueScan, acked map[string]int) {
	t.Helper()
	if len(sc.cur) > 0 {
		t.Errorf("%s: cur/ holds %d claims after pq recover, first %q", when, len(sc.cur), head(slices.Sorted(maps.Keys(sc.cur)), 3))
	}
	for _, n := range sc.tmp {
		// A dead letter's reason is written in tmp/ and renamed into
		// dlq/; a kill in between leaves it behind. Nothing else goes
		// through tmp/ here.
		id, ok := strings.CutSuffix(n, ".reason")
		if !ok || !slices.Contains(ids, id) {
			t.Errorf("%s: tmp/%s is not a leftover reason file of a message", when, n)
		}
	}
	for i, id := range ids {
		_, inNew := sc.new[id]
		_, inDLQ := sc.dlq[id]
		switch {
		case !inNew && !inDLQ && acked[id] == 0:
			t.Errorf("%s: message %d (%s) is lost: not in new/, not in dlq/, never acked", when, i, id)
		case inDLQ && sc.isPoison(id):
			// Killed with its worker on every attempt, it came back
			// through recovery past max_attempts, and was dead-lettered
			// as a poison message without running again, whether or
			// not an earlier run had done its work.
		case inDLQ && acked[id] > 0:
			t.Errorf("%s: message %d (%s) was acked and is a dead letter too", when, i, id)
		case inDLQ && !deadClass(i):
			t.Errorf("%s: message %d (%s), whose command does not fail for good, is a dead letter", when, i, id)
		case acked[id] > 0 && !ackedClass(i):
			t.Errorf("%s: message %d (%s), whose command always fails, was acked", when, i, id)
		}
		if inDLQ && !sc.reasons[id] {
			// Allowed: the kill landed between the move into dlq/
			// and the record of why.
			t.Logf("%s: dead letter %s has no reason file", when, sc.dlq[id])
		}
	}
	// A record of why never outlives its dead letter.
	if o := sc.orphanReasons(); len(o) > 0 {
		t.Errorf("%s: dlq/ holds %d reason files without their dead letters: %q", when, len(o), head(o, 3))
	}
}

// watchDir calls fn from a goroutine of its own for each inotify event of
// mask on the entries of dir, until the returned stop is called.
func watchDir(t *testing.T, dir string, mask uint32, fn func(mask uint32, name string)) (stop func()) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	// Non-blocking, through the runtime's poller, so that Close ends the
	// reader.
	file := os.NewFile(uintptr(fd), "inotify:"+dir)
	done := make(chan struct{})
	go func() {
		defer close(done)
		readInotify(file, func(_ int, mask uint32, name string) {
			if mask&unix.IN_Q_OVERFLOW != 0 {
				t.Errorf("inotify lost events on %s: its queue overflowed", dir)
			}
			if name != "" {
				fn(mask, name)
			}
		})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			file.Close()
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

// readInotify reads the events of the inotify descriptor file until it is
// closed, and calls fn with each event's watch, mask and name.
func readInotify(file *os.File, fn func(wd int, mask uint32, name string)) {
	buf := make([]byte, 256*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := file.Read(buf)
		if err != nil {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)], "\x00"))
			off += unix.SizeofInotifyEvent + int(ev.Len)
			fn(int(ev.Wd), ev.Mask, name)
		}
	}
}

// killRetry runs 'pq retry --all q' and SIGKILLs it at the moment given:
// when it opens the opens-th reason file in dlq/ (it reads them all before it
// moves anything), when the moves-th dead letter leaves dlq/, or once it has
// printed printed IDs. Its stdout is a pipe of 4 KiB, read no further before
// the kill, so that pq, which prints only once every move is made and
// durable, is still alive, blocked in a write, when the kill lands. It
// returns the whole IDs that pq printed and whether the kill ended it: but
// for printed, pq may have finished first.
func (s *spoolEnv) killRetry(t *testing.T, q string, opens, moves, printed int) (ids []string, killed bool) {
	t.Helper()
	outR, outW := pipe(t)
	if _, err := unix.FcntlInt(outW.Fd(), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatalf("F_SETPIPE_SZ: %v", err)
	}
	procCh := make(chan *proc, 1)
	var once sync.Once
	fire := func() {
		once.Do(func() {
			p := <-procCh
			p.cmd.Process.Signal(syscall.SIGKILL)
		})
	}
	stop := func() {}
	if opens > 0 || moves > 0 {
		var seenOpens, seenMoves int
		stop = watchDir(t, s.dir(q, "dlq"), unix.IN_OPEN|unix.IN_MOVED_FROM, func(mask uint32, name string) {
			isReason := strings.HasSuffix(name, ".reason")
			switch {
			case mask&unix.IN_OPEN != 0 && isReason:
				seenOpens++
			case mask&unix.IN_MOVED_FROM != 0 && !isReason:
				seenMoves++
			default:
				return
			}
			if opens > 0 && seenOpens == opens || moves > 0 && seenMoves == moves {
				fire()
			}
		})
	}
	cmd := s.command("retry", "--all", q)
	cmd.Stdout = outW
	p := start(t, "pq retry --all "+q, cmd, outW)
	procCh <- p

	var frag string
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 512)
		var pending []byte
		for {
			n, err := outR.Read(buf)
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				ids = append(ids, string(pending[:i]))
				pending = pending[i+1:]
				if len(ids) == printed {
					fire()
				}
			}
			if err != nil {
				frag = string(pending)
				return
			}
		}
	}()
	select {
	case <-p.done:
	case <-time.After(waitLimit):
		t.Fatalf("pq retry did not end within %v", waitLimit)
	}
	stop()
	<-readerDone // the pipe is at its end now that pq is gone
	outR.Close()
	if frag != "" {
		t.Logf("pq retry was killed in the middle of printing an id; ignoring the fragment %q", frag)
	}
	killed = killedBySIGKILL(t, p, p.stderr.String)
	if printed > 0 && !killed {
		t.Fatalf("pq retry finished though it was blocked printing after %d ids", len(ids))
	}
	return ids, killed
}

// TestKilledRetryLeavesEveryDeadLetterSomewhere dead-letters 250 messages
// (their command exits 100), then SIGKILLs 'pq retry --all' at one of
// several moments: while it reads the reasons, after the first, the 100th
// or the 400th dead letter left dlq/, or after it printed 1 or 200 IDs
// (it prints once all its moves are durable, so those kills land after the
// moves). It proves that a retry cut short loses and duplicates nothing:
// every message is then exactly once in new/ (under its bare ID, attempts
// reset) or in dlq/ (with its reason), its body intact, cur/ and tmp/ are
// empty, and every ID printed is in new/. A second 'pq retry --all' moves
// exactly the rest, and 'pq recv --all --lines' then prints all 250 bodies
// in send order. Reason files whose dead letters left dlq/ just before the
// kill may stay behind in dlq/: nothing removes them later, and the test
// only logs how many there are.
func TestKilledRetryLeavesEveryDeadLetterSomewhere(t *testing.T) {
	t.Parallel()
	const total = 250
	cases := []struct {
		name                  string
		opens, moves, printed int
	}{
		{"while reading reasons", 1, 0, 0},
		{"after 1 move", 0, 1, 0},
		{"after 50 moves", 0, 50, 0},
		{"after 200 moves", 0, 200, 0},
		{"after 1 printed id", 0, 0, 1},
		{"after 100 printed ids", 0, 0, 100},
	}
	s := newSpool(t)
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := fmt.Sprintf("retry%d", ci)
			ids, index := s.sendCrashBodies(t, q, total)
			s.runPQ(t, "", []int{0}, "recv", "--exec", "exit 100", "-j", "8", q)
			if n := len(s.deadLetters(t, q)); n != total {
				t.Fatalf("%d dead letters, want %d", n, total)
			}

			printed, killed := s.killRetry(t, q, c.opens, c.moves, c.printed)
			sc := s.scanQueue(t, q, index)
			t.Logf("killed %v: %d printed, %d in new/, %d in dlq/, %d reasons without their dead letter",
				killed, len(printed), len(sc.new), len(sc.dlq), len(sc.orphanReasons()))
			if len(sc.cur) > 0 || len(sc.tmp) > 0 {
				t.Errorf("cur/ holds %d files and tmp/ %d, want none", len(sc.cur), len(sc.tmp))
			}
			for i, id := range ids {
				rel, inNew := sc.new[id]
				_, inDLQ := sc.dlq[id]
				switch {
				case !inNew && !inDLQ:
					t.Errorf("message %d (%s) is lost: neither in new/ nor in dlq/", i, id)
				case inNew && filepath.Base(rel) != id:
					t.Errorf("retried message %d is new/%s, want its bare ID, attempts reset", i, rel)
				}
				if inDLQ && !sc.reasons[id] {
					// Allowed: retry removes the record first.
					t.Logf("dead letter %s lost its reason file", sc.dlq[id])
				}
			}
			for _, id := range printed {
				if _, ok := sc.new[id]; !ok {
					t.Errorf("pq retry printed %q, which is not in new/", id)
				}
			}
			var rest []string
			for id := range sc.dlq {
				rest = append(rest, id)
			}
			slices.Sort(rest)

			moved, _ := splitLines([]byte(stdoutOf(s.runPQ(t, "", []int{0}, "retry", "--all", q))))
			slices.Sort(moved)
			if !slices.Equal(moved, rest) {
				t.Errorf("the second pq retry --all moved %d messages, want the %d left in dlq/", len(moved), len(rest))
			}
			if d := s.deadLetters(t, q); len(d) > 0 {
				t.Errorf("dlq/ still holds %d dead letters, first %q", len(d), d[0])
			}

			var want []string
			for i := range total {
				want = append(want, crashBody(i))
			}
			got, frag := splitLines([]byte(stdoutOf(s.runPQ(t, "", []int{0}, "recv", "--all", "--lines", q))))
			if !slices.Equal(got, want) || frag != "" {
				t.Errorf("recv --all printed %d bodies (fragment %q), want all %d in send order", len(got), frag, total)
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Errorf("first difference at body %d: %q, want %q", i, got[i], want[i])
						break
					}
				}
			}
			s.assertDrained(t, q)
			if o := s.scanQueue(t, q, index).orphanReasons(); len(o) > 0 {
				t.Errorf("dlq/ keeps %d reason files of messages that were retried and received: %q", len(o), head(o, 3))
			}
		})
	}
}

// TestKilledRetryLeavesNoStrayReason proves that a dead letter's reason does
// not outlive it. It SIGKILLs 'pq retry --all' as the first of three dead
// letters leaves dlq/, 30 times over on fresh queues, so that some kills land
// between that move and the removal of the reason that follows it; after a
// second 'pq retry --all' and a 'pq recv --all' that drains the queue, dlq/
// must be empty, reason files included.
func TestKilledRetryLeavesNoStrayReason(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	for try := range 30 {
		q := fmt.Sprintf("stray%d", try)
		s.sendCrashBodies(t, q, 3)
		s.runPQ(t, "", []int{0}, "recv", "--exec", "exit 100", q)
		s.killRetry(t, q, 0, 1, 0)
		s.runPQ(t, "", []int{0}, "retry", "--all", q)
		s.runPQ(t, "", []int{0}, "recv", "--all", q)
		if n := names(t, s.dir(q, "dlq")); len(n) > 0 {
			t.Errorf("try %d: dlq/ of a drained queue holds %q", try+1, n)
		}
	}
}
