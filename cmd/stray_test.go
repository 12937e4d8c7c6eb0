//go:build linux

package cmd_test

// Strays: entries in a queue that pq did not put there and that are not
// messages where messages can be (named pipes, symbolic links, directories,
// sockets, plain files where a bucket directory belongs). None may stop the
// queue: every message is still delivered, nothing blocks, no command
// exits 2 for it, a non-regular entry is moved aside into QUEUE/.quarantine/
// (which 'pq recover' lists) and never delivered, and a regular file under
// new/ is delivered as a message. Every pq run here is bounded.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// strayKinds are the entries that are not regular files, by name.
var strayKinds = []string{"fifo", "symlink", "directory", "socket"}

// strayModes is the file type of each kind of stray.
var strayModes = map[string]fs.FileMode{
	"fifo": fs.ModeNamedPipe, "symlink": fs.ModeSymlink, "directory": fs.ModeDir, "socket": fs.ModeSocket,
}

// linkedBody is the body of the file a stray symbolic link points to: it
// must never be delivered.
const linkedBody = "the target of a symbolic link"

// makeStray creates an entry of the given kind at path.
func makeStray(t *testing.T, path, kind string) {
	t.Helper()
	var err error
	switch kind {
	case "fifo":
		err = syscall.Mkfifo(path, 0o600)
	case "symlink":
		target := filepath.Join(t.TempDir(), "target")
		if err := os.WriteFile(target, []byte(linkedBody), 0o600); err != nil {
			t.Fatal(err)
		}
		err = os.Symlink(target, path)
	case "directory":
		err = os.Mkdir(path, 0o700)
	case "socket":
		err = syscall.Mknod(path, syscall.S_IFSOCK|0o600, 0)
	default:
		t.Fatalf("no such stray kind %q", kind)
	}
	if err != nil {
		t.Fatalf("make %s %s: %v", kind, path, err)
	}
}

// quarantined returns the entries of q's .quarantine/ directory.
func (s *spoolEnv) quarantined(t *testing.T, q string) []fs.DirEntry {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.root, q, ".quarantine"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return ents
}

// checkQuarantine fails unless q's .quarantine/ holds exactly one entry,
// of the type of kind.
func (s *spoolEnv) checkQuarantine(t *testing.T, q, kind string) {
	t.Helper()
	ents := s.quarantined(t, q)
	if len(ents) != 1 {
		var ns []string
		for _, e := range ents {
			ns = append(ns, e.Name())
		}
		t.Fatalf("%s/.quarantine holds %q, want the %s alone", q, ns, kind)
	}
	if got := ents[0].Type(); got != strayModes[kind] {
		t.Errorf("%s/.quarantine/%s is of type %v, want the %s (%v)", q, ents[0].Name(), got, kind, strayModes[kind])
	}
}

// checkRecoverLists runs 'pq recover q' and fails unless it exits 0 and
// prints, for every entry of .quarantine, a line that starts with
// "stray .quarantine/NAME".
func (s *spoolEnv) checkRecoverLists(t *testing.T, q string) {
	t.Helper()
	out, _ := s.runPQ(t, "", []int{0}, "recover", q)
	for _, e := range s.quarantined(t, q) {
		re := regexp.MustCompile(`(?m)^stray \.quarantine/` + regexp.QuoteMeta(e.Name()) + `(\s|$)`)
		if !re.MatchString(out) {
			t.Errorf("pq recover %s printed %q, want a line for .quarantine/%s", q, out, e.Name())
		}
	}
}

// awaitWatch waits up to callLimit for p to watch dir with inotify, as a
// waiting pq recv does once it found nothing to claim, failing if p exits
// or never gets there.
func awaitWatch(t *testing.T, p *proc, dir string) {
	t.Helper()
	deadline := time.Now().Add(callLimit)
	for !hasInotifyWatchOn(p.cmd.Process.Pid, dir) {
		if p.exited() {
			t.Fatalf("%s exited before it waited: %v; stderr:\n%s", p.name, p.err, p.stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come to wait on %s within %v", p.name, dir, callLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stopWaiting sends SIGTERM to a waiting receiver and fails unless it exits
// with code within callLimit.
func stopWaiting(t *testing.T, p *proc, code int) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if got := p.waitWithin(t, callLimit); got != code {
		t.Errorf("%s exited %d on SIGTERM, want %d; stderr:\n%s", p.name, got, code, p.stderr.String())
	}
}

// strayName is the name given to a stray: well formed and older than any
// message sent today, so that a receiver meets it first.
const strayName = "1000000000000000000.1_00000000.stray"

// TestStrayInCurDoesNotStopTheQueue puts a named pipe, a symbolic link, a
// directory or a socket into cur/, beside a ready message in new/. Today a
// pipe hangs every receiver and 'pq recover' (its open blocks, deaf to
// SIGTERM), and the others make both exit 2. Required: 'pq recv' delivers
// the message, 'pq recover' exits 0, the stray is moved into .quarantine/,
// which 'pq recover' lists, and a waiting receiver still stops at SIGTERM.
func TestStrayInCurDoesNotStopTheQueue(t *testing.T) {
	t.Parallel()
	const q = "q"
	for _, kind := range strayKinds {
		t.Run(kind+"/recv first", func(t *testing.T) {
			s := newSpool(t)
			s.send(t, q, "ready")
			makeStray(t, filepath.Join(s.dir(q, "cur"), strayName), kind)
			if out, _ := s.runPQ(t, "", []int{0}, "recv", q); out != "ready" {
				t.Errorf("pq recv printed %q, want the ready message", out)
			}
			if n := names(t, s.dir(q, "cur")); len(n) > 0 {
				t.Errorf("cur/ still holds %q", n)
			}
			s.checkQuarantine(t, q, kind)
			s.checkRecoverLists(t, q)
			s.runPQ(t, "", []int{1}, "recv", q)
		})
		t.Run(kind+"/recover first", func(t *testing.T) {
			s := newSpool(t)
			s.send(t, q, "ready")
			makeStray(t, filepath.Join(s.dir(q, "cur"), strayName), kind)
			s.checkRecoverLists(t, q)
			s.checkQuarantine(t, q, kind)
			if out, _ := s.runPQ(t, "", []int{0}, "recv", q); out != "ready" {
				t.Errorf("pq recv printed %q, want the ready message", out)
			}
		})
		t.Run(kind+"/waiting receiver", func(t *testing.T) {
			s := newSpool(t)
			s.run(t, nil, []int{0}, "init", q)
			makeStray(t, filepath.Join(s.dir(q, "cur"), strayName), kind)
			p := start(t, "pq recv --wait", s.command("recv", "--wait", "--timeout", "5m", q))
			awaitWatch(t, p, s.dir(q, "new"))
			stopWaiting(t, p, 1)
		})
	}
}

// newStray is a case of TestStrayInNewDoesNotStopTheQueue: place makes
// the stray in a queue whose oldest message is in the bucket directory
// bucket (a path under new/), and returns the stray's kind ("file" for a
// regular file, which is a message) and its body if it is a file.
type newStray struct {
	name  string
	place func(t *testing.T, newDir, bucket string) (kind, body string)
}

// writeStrayFile writes a regular file at path and returns it as a case.
func writeStrayFile(t *testing.T, path, body string) (string, string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file", body
}

// bucketPart returns the first n parts of bucket (relative to newDir),
// joined under newDir.
func bucketPart(newDir, bucket string, n int) string {
	rel, _ := filepath.Rel(newDir, bucket)
	return filepath.Join(append([]string{newDir}, strings.Split(rel, string(filepath.Separator))[:n]...)...)
}

// freeBucketName returns a bucket's name of width digits that dir does
// not hold: the messages' own bucket may have any, as the clock has it.
func freeBucketName(t *testing.T, dir string, width int) string {
	t.Helper()
	for i := range 100 {
		name := fmt.Sprintf("%0*d", width, i)
		if _, err := os.Lstat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
			return name
		}
	}
	t.Fatalf("%s holds every bucket name", dir)
	return ""
}

func newStrays() []newStray {
	var cases []newStray
	for _, kind := range strayKinds {
		cases = append(cases, newStray{kind + " in a bucket", func(t *testing.T, _, bucket string) (string, string) {
			makeStray(t, filepath.Join(bucket, strayName), kind)
			return kind, ""
		}})
	}
	return append(cases,
		newStray{"file for a bucket at depth 1", func(t *testing.T, newDir, _ string) (string, string) {
			return writeStrayFile(t, filepath.Join(newDir, "1000000"), "a file named like a bucket at depth 1")
		}},
		newStray{"file for a bucket at depth 2", func(t *testing.T, newDir, bucket string) (string, string) {
			dir := bucketPart(newDir, bucket, 1)
			return writeStrayFile(t, filepath.Join(dir, freeBucketName(t, dir, 3)), "a file named like a bucket at depth 2")
		}},
		newStray{"file for a bucket at depth 3", func(t *testing.T, newDir, bucket string) (string, string) {
			dir := bucketPart(newDir, bucket, 2)
			return writeStrayFile(t, filepath.Join(dir, freeBucketName(t, dir, 2)), "a file named like a bucket at depth 3")
		}},
		newStray{"file not named like a bucket at depth 1", func(t *testing.T, newDir, _ string) (string, string) {
			return writeStrayFile(t, filepath.Join(newDir, "0-not-a-bucket"), "a file at depth 1")
		}},
		newStray{"file not named like a bucket at depth 2", func(t *testing.T, newDir, bucket string) (string, string) {
			return writeStrayFile(t, filepath.Join(bucketPart(newDir, bucket, 1), "0-not-a-bucket"), "a file at depth 2")
		}},
		newStray{"file in a directory not named like a bucket", func(t *testing.T, newDir, _ string) (string, string) {
			return writeStrayFile(t, filepath.Join(newDir, "0-not-a-bucket", "job"), "a file in a directory at depth 1")
		}},
	)
}

// setupNewStray sends three messages to a fresh queue, places the stray and
// returns the spool, the bodies every receiver must get, and the stray's
// kind.
func setupNewStray(t *testing.T, q string, c newStray) (s *spoolEnv, want []string, kind string) {
	t.Helper()
	s = newSpool(t)
	want = []string{"message one", "message two", "message three"}
	for _, b := range want {
		s.send(t, q, b)
	}
	queued := files(t, s.dir(q, "new"))
	slices.Sort(queued)
	if len(queued) != len(want) {
		t.Fatalf("new/ holds %q after three sends", queued)
	}
	bucket := filepath.Dir(filepath.Join(s.dir(q, "new"), queued[0]))
	kind, body := c.place(t, s.dir(q, "new"), bucket)
	if kind == "file" {
		want = append(want, body)
	}
	slices.Sort(want)
	return s, want, kind
}

// checkBodies fails unless lines are the bodies want, each once, in any
// order.
func checkBodies(t *testing.T, what string, lines, want []string) {
	t.Helper()
	got := slices.Clone(lines)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s delivered %q, want each of %q once", what, got, want)
	}
}

// TestStrayInNewDoesNotStopTheQueue puts a stray among the messages of
// new/: a named pipe, symbolic link, directory or socket in a bucket, a
// regular file where a bucket directory belongs, or a file at depth 1 or 2
// with a name that is not a bucket's. Required, for 'pq recv --all', a
// worker and a waiting receiver alike: every message is delivered once,
// body intact; a regular file is delivered as a message; anything else is
// moved into .quarantine/ and never delivered, never handed to a job as its
// stdin; nobody exits 2; the queue is empty afterwards; 'pq recover' exits
// 0; a waiting receiver stops promptly at SIGTERM. Today most of these
// stop every receiver (exit 2), hand a named pipe to the job, or leave a
// file undelivered.
func TestStrayInNewDoesNotStopTheQueue(t *testing.T) {
	t.Parallel()
	const q = "q"
	for _, c := range newStrays() {
		t.Run(c.name+"/recv --all", func(t *testing.T) {
			s, want, kind := setupNewStray(t, q, c)
			out, _ := s.runPQ(t, "", []int{0}, "recv", "--all", "--lines", q)
			lines, frag := splitLines([]byte(out))
			if frag != "" {
				t.Errorf("unterminated output %q", frag)
			}
			checkBodies(t, "pq recv --all", lines, want)
			s.runPQ(t, "", []int{1}, "recv", q)
			if f := files(t, s.dir(q, "new")); len(f) > 0 {
				t.Errorf("new/ still holds %q", f)
			}
			if kind != "file" {
				s.checkQuarantine(t, q, kind)
			}
			s.checkRecoverLists(t, q)
		})
		t.Run(c.name+"/worker", func(t *testing.T) {
			s, want, _ := setupNewStray(t, q, c)
			out, _ := s.runPQ(t, "", []int{0}, "recv", "--exec", `if [ -p /dev/stdin ]; then echo "stdin is a named pipe"; fi; cat; echo`, q)
			lines, _ := splitLines([]byte(out))
			checkBodies(t, "pq recv --exec", lines, want)
			s.runPQ(t, "", []int{1}, "recv", q)
		})
		t.Run(c.name+"/waiting receiver", func(t *testing.T) {
			s, want, _ := setupNewStray(t, q, c)
			r, w := pipe(t)
			cmd := s.command("recv", "--wait", "--all", "--lines", "--timeout", "5m", q)
			cmd.Stdout = w
			p := start(t, "pq recv --wait --all", cmd, w)
			r.SetReadDeadline(time.Now().Add(callLimit))
			var got []byte
			buf := make([]byte, 4096)
			for strings.Count(string(got), "\n") < len(want) {
				n, err := r.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					t.Fatalf("read %q from the waiting receiver, then: %v; stderr:\n%s", got, err, p.stderr.String())
				}
			}
			awaitWatch(t, p, s.dir(q, "new"))
			stopWaiting(t, p, 0)
			lines, _ := splitLines(got)
			checkBodies(t, "pq recv --wait --all", lines, want)
		})
	}
}

// TestRecoveredNameCollision leaves a dead claim in cur/ (a regular file
// that nobody holds locked) while new/ already holds a message under the
// name that recovery would give it back. Today recovery fails with exit 2
// on every receiver and 'pq recover'. Required: both messages are
// delivered, whether 'pq recover' or a receiver meets the collision first.
func TestRecoveredNameCollision(t *testing.T) {
	t.Parallel()
	const q = "q"
	cases := []struct{ name, claim, collider string }{
		{"pq name", "1700000000000000000.1_00c0ffee.elsewhere", "1700000/000/00/1700000000000000000.1_00c0ffee.elsewhere,a=1"},
		{"foreign name, attempt counted", "job-1", "job-1,a=1"},
		{"foreign name, same name", "job-2", "job-2"},
	}
	for _, c := range cases {
		for _, first := range []string{"recover", "recv"} {
			t.Run(c.name+"/"+first+" first", func(t *testing.T) {
				s := newSpool(t)
				s.run(t, nil, []int{0}, "init", q)
				writeStrayFile(t, filepath.Join(s.dir(q, "cur"), c.claim), "the dead claim")
				writeStrayFile(t, filepath.Join(s.dir(q, "new"), c.collider), "the waiting message")
				if first == "recover" {
					s.runPQ(t, "", []int{0}, "recover", q)
				}
				out, _ := s.runPQ(t, "", []int{0}, "recv", "--all", "--lines", q)
				lines, _ := splitLines([]byte(out))
				checkBodies(t, "pq recv --all", lines, []string{"the dead claim", "the waiting message"})
				s.assertDrained(t, q)
			})
		}
	}
}

// TestMalformedNamesAreDeadLettered renames a file with a name pq did not
// make into new/: a name longer than 230 bytes, or malformed metadata
// (",x", a repeated "a=", a huge "a="). A worker whose command always fails
// must dead-letter it after exactly 3 attempts (--max-attempts 3, with a
// backoff of milliseconds), and never fail with "file name too long".
// Today the long name makes the first retry fail with "file name too long"
// (the worker exits 2) and a malformed suffix keeps the attempt count from
// rising, so the message never reaches dlq/ (the bounded wait fails).
func TestMalformedNamesAreDeadLettered(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, file string }{
		{"comma x", "job,x"},
		{"twice a", "job,a=1,a=2"},
		{"huge a", "job,a=99999999999"},
		{"240 bytes", "j" + strings.Repeat("o", 238) + "b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSpool(t)
			s.checkDeadLettered(t, c.file, c.name)
		})
	}
}

// checkDeadLettered renames a file named file with body into new/ and runs
// a waiting worker whose command always fails until the message is a dead
// letter, bounded, then checks that it took exactly 3 attempts.
func (s *spoolEnv) checkDeadLettered(t *testing.T, file, body string) {
	t.Helper()
	const q = "q"
	T := jobDir(t, s)
	s.run(t, nil, []int{0}, "init", q)
	writeStrayFile(t, filepath.Join(s.dir(q, "tmp"), file), body)
	if err := os.Rename(filepath.Join(s.dir(q, "tmp"), file), filepath.Join(s.dir(q, "new"), file)); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "[defaults]\nbackoff_min = \"10ms\"\nbackoff_max = \"20ms\"\n")
	w := s.startWorker(t, "worker", nil, "--config", cfg, "recv", "--wait", "--max-attempts", "3",
		"--exec", `echo "$PQ_ATTEMPT" >>"$T/attempts"; exit 1`, q)
	const limit = 15 * time.Second
	deadline := time.Now().Add(limit)
	for len(s.deadLetters(t, q)) == 0 {
		if w.exited() {
			_, stderr := w.output(t)
			t.Fatalf("the worker exited: %v; stderr:\n%s", w.err, stderr)
		}
		if time.Now().After(deadline) {
			_, stderr := w.output(t)
			t.Fatalf("no dead letter within %v; attempts: %q; stderr:\n%s",
				limit, readFileOr(filepath.Join(T, "attempts")), stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.signal(t, syscall.SIGTERM)
	if code := w.waitWithin(t, callLimit); code != 0 {
		t.Errorf("the worker exited %d on SIGTERM, want 0", code)
	}
	if _, stderr := w.output(t); strings.Contains(stderr, "too long") {
		t.Errorf("the worker's stderr mentions a name too long:\n%s", stderr)
	}
	if got := readFileOr(filepath.Join(T, "attempts")); got != "1\n2\n3\n" {
		t.Errorf("the command ran with PQ_ATTEMPT %q, want 1, 2 and 3", got)
	}
	if dl := s.deadLetters(t, q); len(dl) != 1 || readFileOr(filepath.Join(s.dir(q, "dlq"), dl[0])) != body {
		t.Errorf("dlq/ holds %q, want one letter with the body %q", dl, body)
	}
	out, _ := s.runPQ(t, "", []int{0}, "dlq", q)
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "\tattempts=3\t") {
		t.Errorf("pq dlq printed %q, want one dead letter after 3 attempts", out)
	}
	if f := files(t, s.dir(q, "new")); len(f) > 0 {
		t.Errorf("new/ still holds %q", f)
	}
	if n := names(t, s.dir(q, "cur")); len(n) > 0 {
		t.Errorf("cur/ still holds %q", n)
	}
}

// readFileOr returns the contents of path, or "" when it cannot be read.
func readFileOr(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
