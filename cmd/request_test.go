//go:build linux

package cmd_test

// Request/reply through the real binary: pq request, pq reply and pq recv
// --exec as separate processes, killed at the moments that matter.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"pq/spool"
)

// startWorkers starts n waiting workers on q running cmdline, and returns
// once they wait; they are stopped with SIGINT when the test ends.
func (s *spoolEnv) startWorkers(t *testing.T, q, cmdline string, n int, args ...string) []*proc {
	t.Helper()
	var ps []*proc
	for i := range n {
		var out bytes.Buffer
		cmd := s.command(append([]string{"recv", "--exec", cmdline, "--wait", q}, args...)...)
		cmd.Stdout = &out
		p := start(t, fmt.Sprintf("worker %d", i), cmd)
		ps = append(ps, p)
		t.Cleanup(func() {
			p.cmd.Process.Signal(syscall.SIGINT)
			p.waitWithin(t, stepLimit)
			if out.Len() > 0 {
				t.Errorf("%s wrote to its stdout, which replies must not reach: %.80q", p.name, out.String())
			}
		})
	}
	waitUntil(t, "the workers to wait", func() bool {
		return watchers(s.dir(q, "new")) >= n
	}, ps...)
	return ps
}

// replyPlaces lists q's .replies/.
func (s *spoolEnv) replyPlaces(t *testing.T, q string) []string {
	t.Helper()
	return names(t, s.dir(q, ".replies"))
}

// Four requesters, one pq request process after another each, and two
// workers: every requester gets exactly the replies to its own requests.
func TestConcurrentRequestersGetTheirOwnReplies(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "q")
	s.startWorkers(t, "q", `printf 'reply to '; cat`, 2)
	const requesters, each = 4, 100
	var wg sync.WaitGroup
	errs := make(chan error, requesters)
	for r := range requesters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Sprintf("requester %d, request %03d", r, i)
				cmd := s.command("request", "--timeout", "30s", "q")
				cmd.Stdin = strings.NewReader(body)
				var out, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &stderr
				if err := cmd.Start(); err != nil {
					errs <- err
					return
				}
				code, err := waitBounded(cmd, stepLimit)
				if err == nil && (code != 0 || out.String() != "reply to "+body) {
					err = fmt.Errorf("%q: exit %d, reply %q, stderr %q", body, code, out.String(), stderr.String())
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := s.replyPlaces(t, "q"); len(p) != 0 {
		t.Errorf(".replies/ holds %d entries after every reply was taken, first %q", len(p), p[0])
	}
	// A request is acked after its reply was committed: the last acks may
	// come after the last reply.
	waitUntil(t, "the last acks", func() bool { return len(names(t, s.dir("q", "cur"))) == 0 })
	s.assertDrained(t, "q")
}

// blocker returns a shell command line that reads its stdin, makes the
// file started (by then its worker has made the reply's writer), then
// waits until the file gate exists before it prints its reply; and the
// gate, whose name with ".started" added is the other file.
func blocker(t *testing.T, reply string) (string, string) {
	gate := filepath.Join(t.TempDir(), "gate")
	return fmt.Sprintf(`cat >/dev/null; : >%s.started; while [ ! -e %s ]; do sleep 0.01; done; printf '%s'`, gate, gate, reply), gate
}

// open creates the file at path.
func open(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A requester killed while a worker holds its request: the worker's reply
// lands in a place nobody waits on, and pq recover removes it.
func TestAKilledRequesterLeavesNoReplyAfterRecover(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "q")
	cmdline, gate := blocker(t, "orphaned reply")
	workers := s.startWorkers(t, "q", cmdline, 1)
	req := start(t, "requester", s.command("request", "q"))
	// Its command started: the worker took the reply place while the
	// requester was alive.
	waitUntil(t, "the worker to run the request", func() bool { return exists(gate + ".started") }, req)
	req.kill(t)
	open(t, gate)
	waitUntil(t, "the worker to finish", func() bool { return len(names(t, s.dir("q", "cur"))) == 0 }, workers...)
	places := s.replyPlaces(t, "q")
	if len(places) != 1 {
		t.Fatalf(".replies/ holds %q, want the dead requester's place", places)
	}
	if _, err := os.Stat(filepath.Join(s.dir("q", ".replies"), places[0], "reply")); err != nil {
		t.Fatalf("the worker's reply did not land: %v", err)
	}
	out, _ := s.runPQ(t, "", []int{0}, "recover", "q")
	if want := "removed .replies/" + places[0] + "\n"; out != want {
		t.Errorf("recover printed %q, want %q", out, want)
	}
	if p := s.replyPlaces(t, "q"); len(p) != 0 {
		t.Errorf(".replies/ holds %q after pq recover", p)
	}
	s.assertDrained(t, "q")
}

// A requester killed before its request was claimed: a waiting worker
// drops the request without running its command, and removes the place.
func TestAWaitingWorkerCleansUpAfterAKilledRequester(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "q")
	req := start(t, "requester", s.command("request", "q"))
	waitUntil(t, "the request to be sent", func() bool { return len(s.waiting(t, "q")) == 1 }, req)
	req.kill(t)
	workers := s.startWorkers(t, "q", "cat", 1)
	waitUntil(t, "the worker to remove the dead requester's place", func() bool { return len(s.replyPlaces(t, "q")) == 0 }, workers...)
	s.assertDrained(t, "q")
}

// A requester that times out while a worker holds its request: the reply
// is discarded when it comes, with a line on the worker's stderr.
func TestATimedOutRequestersReplyIsDiscarded(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "q")
	cmdline, gate := blocker(t, "late reply")
	workers := s.startWorkers(t, "q", cmdline, 1)
	var out bytes.Buffer
	cmd := s.command("request", "--timeout", "2s", "q")
	cmd.Stdout = &out
	req := start(t, "requester", cmd)
	waitUntil(t, "the worker to claim the request", func() bool { return len(names(t, s.dir("q", "cur"))) == 1 }, req)
	if code := req.waitWithin(t, stepLimit); code != 1 || out.Len() != 0 || !strings.Contains(req.stderr.String(), "no reply within 2s; withdrawn") {
		t.Fatalf("requester exited %d with %q, stderr %q; want exit 1, no reply, a line saying so", code, out.String(), req.stderr.String())
	}
	open(t, gate)
	waitUntil(t, "the worker to finish", func() bool { return len(names(t, s.dir("q", "cur"))) == 0 }, workers...)
	workers[0].cmd.Process.Signal(syscall.SIGINT)
	workers[0].expectExit(t, 0)
	if !strings.Contains(workers[0].stderr.String(), "nobody waits for the reply any more: output discarded") {
		t.Errorf("the worker did not say it discarded the reply; stderr:\n%s", workers[0].stderr.String())
	}
	if p := s.replyPlaces(t, "q"); len(p) != 0 {
		t.Errorf(".replies/ holds %q", p)
	}
	s.assertDrained(t, "q")
}

// Bodies of several MiB, binary, stream both ways.
func TestLargeBinaryRequestsAndReplies(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "q")
	s.startWorkers(t, "q", "cat", 1)
	body := randomBody(9, 5<<20+3)
	got := s.run(t, body, []int{0}, "request", "--timeout", "60s", "q")
	if !bytes.Equal(got, body) {
		t.Fatalf("the reply of %d bytes came back as %d bytes, or changed", len(body), len(got))
	}
}

// pq reply: the first reply stands (a second one exits 1), a reply nobody
// waits for is discarded with a warning (exit 0), and $PQ_QUEUE names the
// queue when it is left out.
func TestReplyExitStatuses(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "q")
	q, err := spool.Open(s.root, "q", spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	req, err := q.Request(strings.NewReader("question"), spool.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer req.Withdraw()
	id := string(req.ID())
	s.runPQ(t, "first", []int{0}, "reply", "q", id)
	s.env = append(s.env, "PQ_QUEUE=q")
	_, stderr := s.runPQ(t, "second", []int{1}, "reply", id)
	if stderr != "pq: error: reply to "+id+": the request has been replied to already\n" {
		t.Errorf("second reply: stderr %q", stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepLimit)
	defer cancel()
	rc, err := req.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := new(bytes.Buffer)
	b.ReadFrom(rc)
	rc.Close()
	if b.String() != "first" {
		t.Errorf("the requester got %q, want the first reply", b.String())
	}
	_, stderr = s.runPQ(t, "third", []int{0}, "reply", id)
	if !strings.HasPrefix(stderr, "pq: warning: reply to "+id+": nobody waits for this reply; discarded") {
		t.Errorf("a reply nobody waits for: stderr %q", stderr)
	}
	s.runPQ(t, "x", []int{2}, "reply", "q", "../not-an-id")
}

// A replier killed in the middle of writing its reply: the requester gets
// no part of it, and then the whole of the next reply.
func TestAKilledReplierLeavesNoPartialReply(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "q")
	for round, cut := range []int{1, 100 << 10, 1 << 20, 3 << 20} {
		var out bytes.Buffer
		rq := s.command("request", "q")
		rq.Stdin, rq.Stdout = strings.NewReader(fmt.Sprint("question ", round)), &out
		req := start(t, "requester", rq)
		frame := s.run(t, nil, []int{0}, "recv", "--wait", "--timeout", "20s", "--headers", "q")
		_, after, _ := strings.Cut(string(frame), "pq-reply-to=")
		id, _, _ := strings.Cut(after, "\n")

		full := randomBody(uint64(round), 4<<20)
		r, w := pipe(t)
		replier := s.command("reply", "q", id)
		replier.Stdin = r
		rp := start(t, "replier", replier, r)
		if _, err := w.Write(full[:cut]); err != nil {
			t.Fatal(err)
		}
		rp.kill(t)
		w.Close()
		for _, e := range names(t, filepath.Join(s.dir("q", ".replies"), id)) {
			if !strings.HasPrefix(e, ".tmp-") {
				t.Fatalf("round %d: the reply place holds %q after the replier was killed, want at most its temporary file", round, e)
			}
		}
		if req.exited() {
			t.Fatalf("round %d: the requester ended with a partial reply: %v", round, req.err)
		}
		s.run(t, full, []int{0}, "reply", "q", id)
		req.expectExit(t, 0)
		if !bytes.Equal(out.Bytes(), full) {
			t.Fatalf("round %d: the requester got %d bytes, not the %d of the whole reply", round, out.Len(), len(full))
		}
	}
	if p := s.replyPlaces(t, "q"); len(p) != 0 {
		t.Errorf(".replies/ holds %q", p)
	}
}
