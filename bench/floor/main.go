// Command floor measures what the raw system calls behind pq cost on one
// filesystem, with nothing of pq in between, so that the benchmark scripts
// can state pq's speed as a ratio to it. Each mode prints one line:
//
//	<messages per second> <mean us per message> <total us> <mode> <details>
//
// Modes:
//
//	send      create a file in tmp/, write -size bytes, close, rename it
//	          into new/ (flat); -n times, no fsync
//	claim     for -n files made in new/ beforehand (untimed, then sync):
//	          open, flock LOCK_EX|LOCK_NB, rename into cur/, read, unlink,
//	          close; no fsync
//	durable1  one durable message at a time: create, write, fsync, close,
//	          rename into new/, fsync new/; -n times (200 is plenty)
//	empty     nothing at all: the scripts time how long this program takes
//	          to start and exit
//
// and, for the scripts that time whole processes (bench/timeit), modes that
// each do what one pq command does at the least, and print what it prints
// instead of the line above:
//
//	send1     read a body from stdin, create a file in tmp/, write, fsync,
//	          close, rename it into new/ (flat), fsync new/, print its name
//	recv1     list new/ (flat) for the first message, open it, flock
//	          LOCK_EX|LOCK_NB, rename it into cur/, read it, write it to
//	          stdout, unlink it, fsync cur/ and new/ (so that a power cut
//	          brings back neither name); exit 1 when new/ is empty
//
// Floor makes tmp/, new/ and cur/ in the directory given by -dir where they
// are missing, and leaves them to the caller to remove. File names carry
// the process id, so that several runs may share a directory.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	mode := flag.String("mode", "", "send, claim, durable1, empty, send1 or recv1")
	dir := flag.String("dir", "", "scratch directory (created if missing)")
	n := flag.Int("n", 100000, "number of messages")
	size := flag.Int("size", 100, "body size in bytes")
	flag.Parse()
	switch *mode {
	case "empty":
		return
	case "send1", "recv1":
		os.Exit(one(*mode, *dir))
	}
	if *dir == "" || *n < 1 {
		fail(fmt.Errorf("usage: floor -mode send|claim|durable1|empty|send1|recv1 -dir DIR [-n N] [-size BYTES]"))
	}
	tmp, nw, cur := filepath.Join(*dir, "tmp"), filepath.Join(*dir, "new"), filepath.Join(*dir, "cur")
	for _, d := range []string{tmp, nw, cur} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			fail(err)
		}
	}
	body := make([]byte, *size)
	for i := range body {
		body[i] = 'x'
	}
	var (
		elapsed time.Duration
		extra   string
		err     error
	)
	switch *mode {
	case "send":
		elapsed, err = sendFloor(tmp, nw, *n, body)
	case "claim":
		elapsed, err = claimFloor(tmp, nw, cur, *n, body)
	case "durable1":
		var median time.Duration
		elapsed, median, err = durableFloor(tmp, nw, *n, body)
		extra = fmt.Sprintf(" median_us=%.0f", float64(median)/1e3)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fail(err)
	}
	secs := elapsed.Seconds()
	fmt.Printf("%.0f %.2f %d %s n=%d%s\n",
		float64(*n)/secs, secs*1e6/float64(*n), elapsed.Microseconds(), *mode, *n, extra)
}

// name returns the file name of message i. The process id in it lets
// several runs share one directory.
func name(i int) string { return prefix + strconv.Itoa(1e9+i) }

var prefix = "m" + strconv.Itoa(os.Getpid()) + "_"

// writeFile creates path, writes body, optionally fsyncs, and closes it.
func writeFile(path string, body []byte, fsync bool) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: path, Err: err}
	}
	if _, err = unix.Write(fd, body); err == nil && fsync {
		err = unix.Fsync(fd)
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

// sendFloor writes n messages into tmp/ and renames each into new/.
func sendFloor(tmp, nw string, n int, body []byte) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		from, to := filepath.Join(tmp, name(i)), filepath.Join(nw, name(i))
		if err := writeFile(from, body, false); err != nil {
			return 0, err
		}
		if err := unix.Rename(from, to); err != nil {
			return 0, &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
		}
	}
	return time.Since(start), nil
}

// claimFloor makes n messages in new/ (untimed, followed by a sync), then
// claims, reads and removes each the way a receiver must at the least.
func claimFloor(tmp, nw, cur string, n int, body []byte) (time.Duration, error) {
	if _, err := sendFloor(tmp, nw, n, body); err != nil {
		return 0, err
	}
	unix.Sync()
	buf := make([]byte, 64<<10)
	start := time.Now()
	for i := range n {
		from, to := filepath.Join(nw, name(i)), filepath.Join(cur, name(i))
		fd, err := unix.Open(from, unix.O_RDWR|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, &os.PathError{Op: "open", Path: from, Err: err}
		}
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			return 0, &os.PathError{Op: "flock", Path: from, Err: err}
		}
		if err := unix.Rename(from, to); err != nil {
			return 0, &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
		}
		for {
			m, err := unix.Read(fd, buf)
			if err != nil {
				return 0, &os.PathError{Op: "read", Path: to, Err: err}
			}
			if m == 0 {
				break
			}
		}
		if err := unix.Unlink(to); err != nil {
			return 0, &os.PathError{Op: "unlink", Path: to, Err: err}
		}
		unix.Close(fd)
	}
	return time.Since(start), nil
}

// durableFloor sends n messages one at a time, each durable before the next:
// the least that one durable send must do. It returns the total time and
// the median time of one message.
func durableFloor(tmp, nw string, n int, body []byte) (time.Duration, time.Duration, error) {
	dfd, err := unix.Open(nw, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, &os.PathError{Op: "open", Path: nw, Err: err}
	}
	defer unix.Close(dfd)
	each := make([]time.Duration, n)
	start := time.Now()
	for i := range n {
		t := time.Now()
		from, to := filepath.Join(tmp, name(i)), filepath.Join(nw, name(i))
		if err := writeFile(from, body, true); err != nil {
			return 0, 0, err
		}
		if err := unix.Rename(from, to); err != nil {
			return 0, 0, &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
		}
		if err := unix.Fsync(dfd); err != nil {
			return 0, 0, &os.PathError{Op: "fsync", Path: nw, Err: err}
		}
		each[i] = time.Since(t)
	}
	total := time.Since(start)
	slices.Sort(each)
	return total, each[n/2], nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(2)
}
