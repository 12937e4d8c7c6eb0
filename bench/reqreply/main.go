// Command reqreply measures a request/reply round trip through pq against
// its floor, in one run, the cases taking turns so that a shared machine's
// moods fall on all of them alike:
//
//	pq      one `pq request QUEUE` of a 100-byte body, whole process,
//	        answered by one waiting `pq recv --exec cat --wait QUEUE`
//	        worker started beforehand;
//	start   the start and exit of an empty Go program (-bare);
//	spawn   `/bin/sh -c cat` spawned by this program, 100 bytes through it;
//	rename  a durable rename round trip with a second process, started
//	        beforehand, each side woken by inotify: write a file in tmp/,
//	        fsync, close, rename it into a/, fsync a/; the other side reads
//	        it and answers the same way into b/.
//
// The floor of one round trip is the sum of start, spawn and rename. It
// prints the p50 and p99 of each case over -n rounds, and the ratio of
// pq's p50 to the floor's (the sum of the three p50s): goal at most 1.5.
//
// Usage: reqreply -pq PQ -bare BARE -dir DIR [-n 1000]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"
)

func main() {
	pq := flag.String("pq", "", "the pq binary")
	bare := flag.String("bare", "", "an empty Go program")
	dir := flag.String("dir", "", "scratch directory, on the filesystem to measure")
	n := flag.Int("n", 1000, "round trips of each case")
	mode := flag.String("mode", "", "internal: pong runs the far side of the rename round trip")
	flag.Parse()
	var err error
	if *mode == "pong" {
		err = pong(*dir)
	} else {
		err = run(*pq, *bare, *dir, *n)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reqreply:", err)
		os.Exit(1)
	}
}

// body is what every case sends.
var body = bytes.Repeat([]byte("x"), 100)

func run(pq, bare, dir string, n int) error {
	env := append(os.Environ(), "PQ_ROOT="+filepath.Join(dir, "spool"), "XDG_CONFIG_HOME="+filepath.Join(dir, "xdg"), "PQ_CONFIG=")
	worker := exec.Command(pq, "recv", "--exec", "cat", "--wait", "q")
	worker.Env, worker.Stderr = env, os.Stderr
	if err := worker.Start(); err != nil {
		return err
	}
	defer func() { worker.Process.Signal(syscall.SIGINT); worker.Wait() }()
	rt, err := newRoundTrip(dir)
	if err != nil {
		return err
	}
	defer rt.close()
	cases := []struct {
		name string
		fn   func() error
	}{
		{"pq", func() error { return pqRequest(pq, env) }},
		{"start", func() error { return exec.Command(bare).Run() }},
		{"spawn", spawnCat},
		{"rename", rt.once},
	}
	times := make([][]time.Duration, len(cases))
	for i := -20; i < n; i++ { // 20 rounds of warm-up, not counted
		for j := range cases {
			c := cases[(i+20+j)%len(cases)] // the order rotates
			k := slices.IndexFunc(cases, func(x struct {
				name string
				fn   func() error
			}) bool {
				return x.name == c.name
			})
			t0 := time.Now()
			if err := c.fn(); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if i >= 0 {
				times[k] = append(times[k], time.Since(t0))
			}
		}
	}
	var floor50, floor99 time.Duration
	for k, c := range cases {
		p50, p99 := pct(times[k], 50), pct(times[k], 99)
		fmt.Printf("%-7s p50 %8.2f ms  p99 %8.2f ms\n", c.name, ms(p50), ms(p99))
		if c.name != "pq" {
			floor50, floor99 = floor50+p50, floor99+p99
		}
	}
	pq50, pq99 := pct(times[0], 50), pct(times[0], 99)
	fmt.Printf("floor   p50 %8.2f ms  p99 %8.2f ms  (start + spawn + rename)\n", ms(floor50), ms(floor99))
	fmt.Printf("ratio   p50 %.2f (goal <= 1.5)  p99 %.2f\n", float64(pq50)/float64(floor50), float64(pq99)/float64(floor99))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// pct returns the p-th percentile of ds.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// pqRequest runs one pq request and checks its reply.
func pqRequest(pq string, env []string) error {
	c := exec.Command(pq, "request", "--timeout", "30s", "q")
	c.Env, c.Stdin, c.Stderr = env, bytes.NewReader(body), os.Stderr
	out, err := c.Output()
	if err == nil && !bytes.Equal(out, body) {
		err = fmt.Errorf("reply %q, want the body", out)
	}
	return err
}

// spawnCat runs /bin/sh -c cat with the body through it.
func spawnCat() error {
	c := exec.Command("/bin/sh", "-c", "cat")
	c.Stdin = bytes.NewReader(body)
	out, err := c.Output()
	if err == nil && !bytes.Equal(out, body) {
		err = fmt.Errorf("cat gave %q", out)
	}
	return err
}

// roundTrip is the near side of the rename round trip.
type roundTrip struct {
	dir  string
	w    *fsnotify.Watcher
	pong *exec.Cmd
	seq  int
}

func newRoundTrip(dir string) (*roundTrip, error) {
	dir = filepath.Join(dir, "rt")
	for _, d := range []string{"tmp", "a", "b"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	w, err := fsnotify.NewWatcher()
	if err == nil {
		err = w.Add(filepath.Join(dir, "b"))
	}
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	pong := exec.Command(self, "-mode", "pong", "-dir", dir)
	pong.Stderr = os.Stderr
	stdout, err := pong.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := pong.Start(); err != nil {
		return nil, err
	}
	// The far side says when it watches.
	if _, err := stdout.Read(make([]byte, 1)); err != nil {
		return nil, fmt.Errorf("pong did not start: %w", err)
	}
	return &roundTrip{dir: dir, w: w, pong: pong}, nil
}

func (rt *roundTrip) close() {
	rt.pong.Process.Kill()
	rt.pong.Wait()
	rt.w.Close()
}

// once sends one file across and waits for the answer.
func (rt *roundTrip) once() error {
	rt.seq++
	name := fmt.Sprintf("ping-%d", rt.seq)
	if err := durableRename(rt.dir, name, "a", body); err != nil {
		return err
	}
	for {
		select {
		case ev := <-rt.w.Events:
			if ev.Op&fsnotify.Create == 0 {
				continue
			}
			b, err := os.ReadFile(ev.Name)
			if err != nil {
				return err
			}
			os.Remove(ev.Name)
			if !bytes.Equal(b, body) {
				return fmt.Errorf("answer %q", b)
			}
			return nil
		case err := <-rt.w.Errors:
			return err
		case <-time.After(10 * time.Second):
			return fmt.Errorf("no answer")
		}
	}
}

// durableRename writes data to tmp/name, fsyncs it, renames it into sub/
// and fsyncs sub/.
func durableRename(dir, name, sub string, data []byte) error {
	tmp := filepath.Join(dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, sub, name)); err != nil {
		return err
	}
	d, err := os.Open(filepath.Join(dir, sub))
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Fsync(int(d.Fd()))
}

// pong answers every file that lands in a/ with the same body into b/.
func pong(dir string) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := w.Add(filepath.Join(dir, "a")); err != nil {
		return err
	}
	os.Stdout.Write([]byte{'!'})
	for {
		select {
		case ev := <-w.Events:
			if ev.Op&fsnotify.Create == 0 {
				continue
			}
			b, err := os.ReadFile(ev.Name)
			if err != nil {
				return err
			}
			os.Remove(ev.Name)
			if err := durableRename(dir, "pong-"+filepath.Base(ev.Name), "b", b); err != nil {
				return err
			}
		case err := <-w.Errors:
			return err
		}
	}
}
