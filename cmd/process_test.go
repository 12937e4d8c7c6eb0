package cmd_test

// Concurrency and crash tests that run the real pq binary as separate
// processes: several producers and consumers on one queue, consumers and
// producers killed with SIGKILL at awkward moments. They check the promises
// that only hold across processes: each message is delivered once while
// everyone lives, a dead consumer's claim comes back (at least once), and a
// dead producer never leaves a partial message where receivers look.
//
// The binary is the one TestMain (script_test.go) builds once per test
// process and removes at the end (buildPQ).

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestManyProducersAndConsumersEachMessageOnce runs 4 producers, each
// sending 1,500 distinct lines with 'pq send --lines' (more than the
// 1,000 that a bulk send commits at most at once), against 4
// waiting consumers ('pq recv --all --lines --wait'), all started together
// on one queue. It proves that concurrent
// claims never hand one message to two consumers and never lose one: every
// one of the 6,000 bodies is printed exactly once, the producers print
// 6,000 distinct ids, and once the consumers are stopped (SIGTERM, which
// pq treats as the end of the wait) the queue holds nothing: tmp/ and cur/
// are empty and no file is left under new/.
func TestManyProducersAndConsumersEachMessageOnce(t *testing.T) {
	t.Parallel()
	const (
		producers   = 4
		consumers   = 4
		perProducer = 1500
		total       = producers * perProducer
		q           = "many"
	)
	s := newSpool(t)
	// Creating the queue while others use it is the subject of
	// TestManyProcessesCreateOneQueueAtOnce, not of this test.
	s.run(t, nil, []int{0}, "init", q)

	lineCh := make(chan string, 4096)
	var readers sync.WaitGroup
	var cons []*proc
	for i := range consumers {
		r, w := pipe(t)
		cmd := s.command("recv", "--all", "--lines", "--wait", "--timeout", "5m", q)
		cmd.Stdout = w
		cons = append(cons, start(t, fmt.Sprintf("consumer %d", i), cmd, w))
		readers.Add(1)
		go func() {
			defer readers.Done()
			br := bufio.NewReader(r)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					if line != "" {
						lineCh <- "FRAGMENT:" + line
					}
					return
				}
				lineCh <- strings.TrimSuffix(line, "\n")
			}
		}()
	}
	go func() {
		readers.Wait()
		close(lineCh)
	}()

	var prods []*proc
	var idOut []*bytes.Buffer
	for p := range producers {
		var in bytes.Buffer
		for i := 1; i <= perProducer; i++ {
			fmt.Fprintf(&in, "p%d-%05d\n", p+1, i)
		}
		cmd := s.command("send", "--lines", q)
		cmd.Stdin = &in
		out := new(bytes.Buffer)
		cmd.Stdout = out
		idOut = append(idOut, out)
		prods = append(prods, start(t, fmt.Sprintf("producer %d", p+1), cmd))
	}
	prodsDone := make(chan struct{})
	go func() {
		for _, p := range prods {
			<-p.done
		}
		close(prodsDone)
	}()

	// Collect lines until every message arrived and every producer ended,
	// then stop the consumers and keep collecting what they still print.
	seen := map[string]int{}
	var fragments []string
	count := 0
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		for _, c := range cons {
			c.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	ch, pd := lineCh, prodsDone
	for ch != nil {
		if count >= total && pd == nil {
			stop()
		}
		select {
		case line, ok := <-ch:
			if !ok {
				ch = nil
				continue
			}
			if strings.HasPrefix(line, "FRAGMENT:") {
				fragments = append(fragments, line)
				continue
			}
			seen[line]++
			count++
		case <-pd:
			pd = nil
			// A failed producer sends no more: the count will
			// never be reached, so stop waiting for it.
			for _, p := range prods {
				if !p.checkExit(t, 0) {
					stop()
				}
			}
		case <-deadline.C:
			if stopped {
				for _, c := range cons {
					c.cmd.Process.Kill()
				}
				t.Fatalf("consumers did not exit within %v of SIGTERM", waitLimit)
			}
			t.Errorf("only %d of %d bodies printed within %v; stopping the consumers", count, total, waitLimit)
			stop()
			deadline.Reset(waitLimit)
		}
	}

	if pd != nil {
		t.Errorf("the producers had not all exited when the consumers stopped")
	}
	for _, c := range cons {
		// 1: a consumer that happened to receive nothing.
		c.checkExit(t, 0, 1)
	}

	if len(fragments) > 0 {
		t.Errorf("consumers printed %d unterminated lines, first %q", len(fragments), fragments[0])
	}
	var missing, dup, unknown []string
	for p := 1; p <= producers; p++ {
		for i := 1; i <= perProducer; i++ {
			body := fmt.Sprintf("p%d-%05d", p, i)
			switch n := seen[body]; {
			case n == 0:
				missing = append(missing, body)
			case n > 1:
				dup = append(dup, fmt.Sprintf("%s x%d", body, n))
			}
			delete(seen, body)
		}
	}
	for body := range seen {
		unknown = append(unknown, body)
	}
	if len(missing) > 0 || len(dup) > 0 || len(unknown) > 0 {
		t.Errorf("printed %d bodies for %d messages: %d missing (first %q), %d duplicated (first %q), %d unknown (first %q)",
			count, total, len(missing), head(missing, 5), len(dup), head(dup, 5), len(unknown), head(unknown, 5))
	}

	ids := map[string]bool{}
	for i, out := range idOut {
		lines, frag := splitLines(out.Bytes())
		if len(lines) != perProducer || frag != "" {
			t.Errorf("producer %d printed %d ids (fragment %q), want %d", i+1, len(lines), frag, perProducer)
		}
		for _, id := range lines {
			ids[id] = true
		}
	}
	if len(ids) != total {
		t.Errorf("producers printed %d distinct ids, want %d", len(ids), total)
	}
	s.assertDrained(t, q)
}

// TestManyProcessesCreateOneQueueAtOnce starts 4 'pq recv --wait' and 4
// 'pq send' processes all at once on a queue that does not exist yet, ten
// times over, each time on a fresh spool. Both commands create a missing
// queue (a waiting receiver so that it can watch it, a sender with its first
// message), so some of them find the queue half made by another. It proves
// that this race is harmless: every process succeeds, and each of the 4
// bodies is received by exactly one receiver.
func TestManyProcessesCreateOneQueueAtOnce(t *testing.T) {
	t.Parallel()
	const (
		n      = 4
		rounds = 10
		q      = "fresh"
	)
	for round := range rounds {
		s := newSpool(t)
		var recvs []*proc
		var outs []*bytes.Buffer
		for i := range n {
			cmd := s.command("recv", "--wait", "--timeout", "60s", q)
			out := new(bytes.Buffer)
			cmd.Stdout = out
			outs = append(outs, out)
			recvs = append(recvs, start(t, fmt.Sprintf("round %d: receiver %d", round, i), cmd))
		}
		var sends []*proc
		var want []string
		for i := range n {
			body := fmt.Sprintf("round%d-message%d", round, i)
			want = append(want, body)
			cmd := s.command("send", q)
			cmd.Stdin = strings.NewReader(body)
			sends = append(sends, start(t, fmt.Sprintf("round %d: sender %d", round, i), cmd))
		}
		sent := true
		for _, p := range sends {
			sent = p.checkExit(t, 0) && sent
		}
		if !sent {
			// Some receiver would wait in vain for a message.
			for _, p := range recvs {
				p.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		var got []string
		for i, p := range recvs {
			if p.checkExit(t, 0) {
				got = append(got, outs[i].String())
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("round %d: received %q, want each of %q once", round, got, want)
		}
		if t.Failed() {
			return
		}
		s.assertDrained(t, q)
	}
}

// head returns the first n elements of xs at most, for error messages.
func head[T any](xs []T, n int) []T { return xs[:min(n, len(xs))] }

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// randomBody returns n deterministic pseudo-random bytes, newlines and NULs
// included.
func randomBody(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// hasInotifyWatchOn reports whether process pid watches dir with inotify,
// from its /proc fdinfo. A waiting 'pq recv' sets up its watch on new/ only
// after it found the queue empty, so this shows that it is waiting.
func hasInotifyWatchOn(pid int, dir string) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return false
	}
	want := "ino:" + strconv.FormatUint(fi.Sys().(*syscall.Stat_t).Ino, 16) + " "
	fdinfo := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(fdinfo)
	if err != nil {
		return false
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(fdinfo, e.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "inotify wd:") && strings.Contains(line, want) {
				return true
			}
		}
	}
	return false
}

// holdClaim starts 'pq recv q' with its stdout on a pipe that nobody reads,
// so that it claims the oldest message, blocks while writing a body larger
// than the pipe can hold, and keeps its claim. It returns once cur/ holds
// the message file named want, with the consumer and the read end of its
// pipe, which must stay open until the consumer is dead: closing it would
// make the write fail and pq would put the message back by itself.
func (s *spoolEnv) holdClaim(t *testing.T, q, want string) (*proc, *os.File) {
	t.Helper()
	r, w := pipe(t)
	cmd := s.command("recv", q)
	cmd.Stdout = w
	p := start(t, "blocked consumer", cmd, w)
	waitUntil(t, "the blocked consumer's claim "+want+" in cur/", func() bool {
		return slices.Equal(names(t, s.dir(q, "cur")), []string{want})
	}, p)
	return p, r
}

// readRedelivery waits until consumer p, whose stdout is on the pipe r that
// nobody reads yet, holds the redelivered message in cur/ under the name
// want (the attempt count of recovery in it), then reads everything p
// prints and checks that p succeeds and printed body byte for byte.
func (s *spoolEnv) readRedelivery(t *testing.T, q, want string, p *proc, r *os.File, body []byte) {
	t.Helper()
	waitUntil(t, "the redelivered claim "+want+" in cur/", func() bool {
		return slices.Equal(names(t, s.dir(q, "cur")), []string{want})
	}, p)
	r.SetReadDeadline(time.Now().Add(stepLimit))
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read redelivered body: %v", err)
	}
	p.expectExit(t, 0)
	if !bytes.Equal(got, body) {
		i := 0
		for i < len(got) && i < len(body) && got[i] == body[i] {
			i++
		}
		t.Fatalf("redelivered body differs: %d bytes, want %d; first difference at byte %d", len(got), len(body), i)
	}
	s.assertDrained(t, q)
}

// TestKilledConsumerMessageIsRedelivered proves that a message whose
// consumer dies while holding its claim is not lost: its file stays in cur/
// under a lock that the kernel drops with the process, and pq puts it back
// with one more attempt counted in its name (",a=1"), then delivers the full
// body again, byte for byte. The consumer is caught mid-delivery by giving
// it a 1 MiB body and a stdout pipe that nobody reads, then SIGKILLed.
//
// The "recv on start" case shows the recovery that every 'pq recv' runs
// before claiming. The "waiting receiver" case starts 'pq recv --wait' while
// the claim is alive, waits until it watches new/ (it found nothing to
// claim), then kills the claimer: the waiter must find the dead claim by the
// recovery it runs while waiting and receive the message.
func TestKilledConsumerMessageIsRedelivered(t *testing.T) {
	t.Parallel()
	body := randomBody(1, 1<<20)

	t.Run("recv on start", func(t *testing.T) {
		s := newSpool(t)
		const q = "crash"
		id := strings.TrimSpace(string(s.run(t, body, []int{0}, "send", q)))
		if id == "" || strings.Contains(id, "\n") {
			t.Fatalf("send printed %q, want one id", id)
		}
		a, ar := s.holdClaim(t, q, id)
		a.kill(t)
		ar.Close()
		if got := names(t, s.dir(q, "cur")); !slices.Equal(got, []string{id}) {
			t.Fatalf("after the kill cur/ holds %q, want the dead claim %q", got, id)
		}

		r, w := pipe(t)
		cmd := s.command("recv", q)
		cmd.Stdout = w
		b := start(t, "second consumer", cmd, w)
		s.readRedelivery(t, q, id+",a=1", b, r, body)
	})

	t.Run("waiting receiver", func(t *testing.T) {
		s := newSpool(t)
		const q = "crash"
		id := strings.TrimSpace(string(s.run(t, body, []int{0}, "send", q)))
		a, ar := s.holdClaim(t, q, id)

		r, w := pipe(t)
		cmd := s.command("recv", "--wait", "--timeout", "60s", q)
		cmd.Stdout = w
		waiter := start(t, "waiting consumer", cmd, w)
		waitUntil(t, "the waiting consumer to watch new/", func() bool {
			return hasInotifyWatchOn(waiter.cmd.Process.Pid, s.dir(q, "new"))
		}, waiter, a)
		if got := names(t, s.dir(q, "cur")); !slices.Equal(got, []string{id}) {
			t.Fatalf("while the claim lives cur/ holds %q, want %q", got, id)
		}

		a.kill(t)
		ar.Close()
		s.readRedelivery(t, q, id+",a=1", waiter, r, body)
	})
}

// checkedLine is a self-checking message body: "<len>:<payload>:<sha256 of
// payload in hex>".
func checkedLine(payload []byte) []byte {
	sum := sha256.Sum256(payload)
	return fmt.Appendf(nil, "%d:%s:%x", len(payload), payload, sum)
}

// checkLine returns an error unless b is a whole checkedLine.
func checkLine(b []byte) error {
	head, rest, ok := bytes.Cut(b, []byte(":"))
	if !ok {
		return fmt.Errorf("no length in %d bytes", len(b))
	}
	n, err := strconv.Atoi(string(head))
	if err != nil || n < 0 {
		return fmt.Errorf("bad length %.20q", head)
	}
	if len(rest) != n+1+sha256.Size*2 || rest[n] != ':' {
		return fmt.Errorf("%d bytes after the length, want %d", len(rest), n+1+sha256.Size*2)
	}
	sum := sha256.Sum256(rest[:n])
	if hex.EncodeToString(sum[:]) != string(rest[n+1:]) {
		return errors.New("checksum mismatch")
	}
	return nil
}

// lineSource makes an endless stream of checkedLines of varied sizes: most
// short, one in eight 200 KiB.
type lineSource struct {
	rng  *rand.Rand
	pool []byte
}

func newLineSource(seed uint64) *lineSource {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	ls := &lineSource{rng: rand.New(rand.NewPCG(seed, 7)), pool: make([]byte, 256<<10)}
	for i := range ls.pool {
		ls.pool[i] = alphabet[ls.rng.IntN(len(alphabet))]
	}
	return ls
}

func (ls *lineSource) next() []byte {
	n := 1 + ls.rng.IntN(2000)
	if ls.rng.IntN(8) == 0 {
		n = 200 << 10
	}
	off := ls.rng.IntN(len(ls.pool) - n + 1)
	return append(checkedLine(ls.pool[off:off+n]), '\n')
}

// TestKilledProducersLeaveNoPartialMessages SIGKILLs 'pq send --lines' while
// it is fed an endless stream of self-checking lines of varied sizes (some
// of 200 KiB) through a pipe, at moments that vary from run to run: right
// after start, or once it has printed k ids and has then been given m more
// lines. It proves that a message is either wholly in new/ or not there at
// all: every file under new/ holds a complete, valid line; every id printed
// before the kill is under new/ (an id is printed only once its message is
// durable); and receiving the queue yields only complete, valid bodies, one
// per file, leaving it empty. Files left in tmp/ by the dead producer are
// allowed: receivers never look there (a later 'pq recover' is to clean
// them up).
func TestKilledProducersLeaveNoPartialMessages(t *testing.T) {
	t.Parallel()
	runs := []struct{ k, m int }{
		{0, 0}, {0, 3}, {0, 40}, {1, 0}, {1, 5}, {3, 1}, {10, 0}, {30, 17}, {100, 2}, {400, 9},
	}
	s := newSpool(t)
	for i, run := range runs {
		t.Run(fmt.Sprintf("k=%d,m=%d", run.k, run.m), func(t *testing.T) {
			q := fmt.Sprintf("crash%d", i)
			s.run(t, nil, []int{0}, "init", q)
			ids, written := s.killProducer(t, q, uint64(i), run.k, run.m)
			newDir := s.dir(q, "new")

			// Every file under new/ is complete, whatever its ID.
			inNew := map[string]bool{}
			for _, rel := range files(t, newDir) {
				b, err := os.ReadFile(filepath.Join(newDir, rel))
				if err != nil {
					t.Fatal(err)
				}
				if err := checkLine(b); err != nil {
					t.Errorf("partial message in new/: %s (%d bytes): %v", rel, len(b), err)
				}
				id, _, _ := strings.Cut(filepath.Base(rel), ",")
				inNew[id] = true
			}
			for _, id := range ids {
				if !inNew[id] {
					t.Errorf("id %s was printed before the kill but is not under new/", id)
				}
			}
			if n := names(t, s.dir(q, "cur")); len(n) > 0 {
				t.Errorf("cur/ holds %q though nobody received", n)
			}
			t.Logf("%d lines written, %d ids printed, %d messages in new/, %d leftovers in tmp/",
				written, len(ids), len(inNew), len(names(t, s.dir(q, "tmp"))))

			code := 0
			if len(inNew) == 0 {
				code = 1
			}
			out := s.run(t, nil, []int{code}, "recv", "--all", "--lines", q)
			lines, frag := splitLines(out)
			if frag != "" {
				t.Errorf("recv printed an unterminated line of %d bytes", len(frag))
			}
			if len(lines) != len(inNew) {
				t.Errorf("recv printed %d bodies, want one for each of the %d files in new/", len(lines), len(inNew))
			}
			for _, l := range lines {
				if err := checkLine([]byte(l)); err != nil {
					t.Errorf("received a bad body of %d bytes: %v", len(l), err)
				}
			}
			if n := files(t, newDir); len(n) > 0 {
				t.Errorf("new/ still holds %q after recv --all", n)
			}
			if n := names(t, s.dir(q, "cur")); len(n) > 0 {
				t.Errorf("cur/ holds %q after recv --all", n)
			}
		})
	}
}

// killProducer runs 'pq send --lines q' on an endless stream of checked
// lines and SIGKILLs it once it has printed k ids and has been written m
// more lines after that. It returns every complete id the producer printed,
// including those that arrive after the k-th, and how many lines were
// written.
func (s *spoolEnv) killProducer(t *testing.T, q string, seed uint64, k, m int) (ids []string, written int) {
	t.Helper()
	inR, inW := pipe(t)
	outR, outW := pipe(t)
	cmd := s.command("send", "--lines", q)
	cmd.Stdin = inR
	cmd.Stdout = outW
	p := start(t, "producer", cmd, inR, outW)

	idsReached := make(chan struct{})
	if k == 0 {
		close(idsReached)
	}
	var fragment string
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		br := bufio.NewReader(outR)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				fragment = line
				return
			}
			ids = append(ids, strings.TrimSuffix(line, "\n"))
			if len(ids) == k {
				close(idsReached)
			}
		}
	}()

	trigger := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		src := newLineSource(seed)
		after := -1 // lines written since the k-th id arrived
		fired := false
		for {
			if !fired {
				if after < 0 && isClosed(idsReached) {
					after = 0
				}
				if after >= m {
					fired = true
					close(trigger)
				}
			}
			if _, err := inW.Write(src.next()); err != nil {
				// The producer is dead; if it died by itself,
				// kill reports it.
				if !fired {
					close(trigger)
				}
				return
			}
			written++
			if after >= 0 {
				after++
			}
		}
	}()

	select {
	case <-trigger:
	case <-time.After(waitLimit):
		t.Fatalf("the producer did not print %d ids within %v", k, waitLimit)
	}
	p.kill(t)
	<-writerDone // its write fails now that nobody holds the read end
	inW.Close()
	<-readerDone
	outR.Close()
	if fragment != "" {
		t.Logf("the producer was killed while printing an id; ignoring the fragment %q", fragment)
	}
	return ids, written
}

// drainBody is the body of message i in TestKilledConsumersDuringDrain:
// 1 KiB, starting "m-<i>-" and padded with a letter chosen by i.
func drainBody(i int) string {
	head := fmt.Sprintf("m-%05d-", i)
	return head + strings.Repeat(string(rune('a'+i%26)), 1024-len(head))
}

// drainIndex returns i for a whole drainBody(i), or -1.
func drainIndex(body string) int {
	if len(body) < 8 || !strings.HasPrefix(body, "m-") {
		return -1
	}
	i, err := strconv.Atoi(body[2:7])
	if err != nil || drainBody(i) != body {
		return -1
	}
	return i
}

// TestKilledConsumersDuringDrain drains a queue of 5,000 messages of 1 KiB
// with two 'pq recv --all --lines' consumers and SIGKILLs one of them
// midway: after it printed 300 bodies, the test stops reading its stdout so
// that it blocks while writing, which guarantees it is alive and holds
// claims it has not acked when the kill lands. The second consumer runs
// alongside it, then a last 'pq recv --all --lines' recovers the dead
// claims and drains the rest. It proves at-least-once delivery across a
// consumer crash: every body printed is complete, all 5,000 are printed,
// each exactly once except those whose claims the dead consumer still held
// (still in cur/ after the kill), which may be printed twice, and the queue
// ends empty.
func TestKilledConsumersDuringDrain(t *testing.T) {
	t.Parallel()
	const (
		total  = 5000
		before = 300
		q      = "drain"
	)
	s := newSpool(t)
	var in bytes.Buffer
	for i := range total {
		in.WriteString(drainBody(i))
		in.WriteByte('\n')
	}
	ids, _ := splitLines(s.run(t, in.Bytes(), []int{0}, "send", "--lines", q))
	if len(ids) != total {
		t.Fatalf("send printed %d ids, want %d", len(ids), total)
	}

	// The victim: read its first bodies, then leave its pipe unread.
	vr, vw := pipe(t)
	cmd := s.command("recv", "--all", "--lines", q)
	cmd.Stdout = vw
	victim := start(t, "victim consumer", cmd, vw)
	vr.SetReadDeadline(time.Now().Add(waitLimit))
	vbr := bufio.NewReader(vr)
	var victimLines []string
	for len(victimLines) < before {
		line, err := vbr.ReadString('\n')
		if err != nil {
			t.Fatalf("victim printed %d lines, then: %v; stderr:\n%s", len(victimLines), err, victim.stderr.String())
		}
		victimLines = append(victimLines, strings.TrimSuffix(line, "\n"))
	}

	// The survivor runs alongside the victim; its first body shows that it
	// is claiming.
	or, ow := pipe(t)
	cmd = s.command("recv", "--all", "--lines", q)
	cmd.Stdout = ow
	other := start(t, "other consumer", cmd, ow)
	firstLine := make(chan struct{})
	var otherLines []string
	var otherFragment string
	otherDone := make(chan struct{})
	go func() {
		defer close(otherDone)
		br := bufio.NewReader(or)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				otherFragment = line
				return
			}
			otherLines = append(otherLines, strings.TrimSuffix(line, "\n"))
			if len(otherLines) == 1 {
				close(firstLine)
			}
		}
	}()
	select {
	case <-firstLine:
	case <-otherDone:
		t.Fatalf("the other consumer printed nothing: %v; stderr:\n%s", other.err, other.stderr.String())
	case <-time.After(waitLimit):
		t.Fatalf("the other consumer printed nothing within %v", waitLimit)
	}

	victim.kill(t)
	// What the victim wrote before it died is still in the pipe.
	rest, err := io.ReadAll(vbr)
	if err != nil {
		t.Fatalf("read the victim's output: %v", err)
	}
	more, fragment := splitLines(rest)
	victimLines = append(victimLines, more...)
	if fragment != "" {
		t.Logf("the victim died in the middle of a body; %d bytes of it are ignored", len(fragment))
	}
	other.expectExit(t, 0)
	<-otherDone
	if otherFragment != "" {
		t.Errorf("the other consumer printed an unterminated line of %d bytes", len(otherFragment))
	}

	// The victim's unacked claims are still in cur/, dead.
	dead := map[int]bool{}
	for _, name := range names(t, s.dir(q, "cur")) {
		b, err := os.ReadFile(filepath.Join(s.dir(q, "cur"), name))
		if err != nil {
			t.Fatal(err)
		}
		i := drainIndex(strings.TrimSuffix(string(b), "\n"))
		if i < 0 {
			t.Fatalf("cur/%s holds a bad body of %d bytes", name, len(b))
		}
		if strings.Contains(name, ",") {
			t.Errorf("dead claim cur/%s already counts an attempt", name)
		}
		dead[i] = true
	}
	if len(dead) == 0 {
		t.Fatal("the victim was killed while blocked in a write, yet cur/ holds none of its claims")
	}

	final, frag := splitLines(s.run(t, nil, []int{0}, "recv", "--all", "--lines", q))
	if frag != "" {
		t.Errorf("the final consumer printed an unterminated line of %d bytes", len(frag))
	}

	counts := make([]int, total)
	finalHas := map[int]bool{}
	for who, lines := range map[string][]string{"victim": victimLines, "other": otherLines, "final": final} {
		for _, l := range lines {
			i := drainIndex(l)
			if i < 0 {
				t.Errorf("the %s consumer printed a bad body of %d bytes: %.20q", who, len(l), l)
				continue
			}
			counts[i]++
			if who == "final" {
				finalHas[i] = true
			}
		}
	}
	var missing, dup []int
	for i, n := range counts {
		switch {
		case n == 0:
			missing = append(missing, i)
		case n > 2 || n == 2 && !dead[i]:
			dup = append(dup, i)
		}
	}
	for i := range dead {
		if !finalHas[i] {
			t.Errorf("message %d, claimed by the dead consumer, was not redelivered by the final recv", i)
		}
	}
	if len(missing) > 0 || len(dup) > 0 {
		t.Errorf("%d messages never printed (first %v), %d printed more often than at-least-once allows (first %v)",
			len(missing), head(missing, 5), len(dup), head(dup, 5))
	}
	t.Logf("victim printed %d, other %d, final %d; %d dead claims recovered", len(victimLines), len(otherLines), len(final), len(dead))
	s.assertDrained(t, q)
}
