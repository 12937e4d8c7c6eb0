package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// one runs mode send1 or recv1 on the queue directory dir and returns the
// exit status: 0, 1 when recv1 found nothing, 2 on an error.
func one(mode, dir string) int {
	if dir == "" {
		fail(errors.New("-dir is required"))
	}
	var err error
	switch mode {
	case "send1":
		err = send1(dir)
	case "recv1":
		err = recv1(dir)
	}
	if errors.Is(err, errEmpty) {
		return 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 2
	}
	return 0
}

var errEmpty = errors.New("empty")

// send1 sends one durable message read from stdin into dir/new (flat) and
// prints its name.
func send1(dir string) error {
	body, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	name := strconv.FormatInt(time.Now().UnixNano(), 10) + "." + strconv.Itoa(os.Getpid())
	from, to := filepath.Join(dir, "tmp", name), filepath.Join(dir, "new", name)
	if err := writeFile(from, body, true); err != nil {
		return err
	}
	if err := unix.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	if err := syncDir(filepath.Join(dir, "new")); err != nil {
		return err
	}
	_, err = os.Stdout.WriteString(name + "\n")
	return err
}

// recv1 claims the first message listed in dir/new (flat), writes it to
// stdout and acks it durably: the unlink from cur/, and the rename out of
// new/, so that a power cut can bring back neither name (fsync cur/, then
// new/).
func recv1(dir string) error {
	nw, cur := filepath.Join(dir, "new"), filepath.Join(dir, "cur")
	name, err := first(nw)
	if err != nil {
		return err
	}
	from, to := filepath.Join(nw, name), filepath.Join(cur, name)
	fd, err := unix.Open(from, unix.O_RDWR|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: from, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return &os.PathError{Op: "flock", Path: from, Err: err}
	}
	if err := unix.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	buf := make([]byte, 64<<10)
	for {
		m, err := unix.Read(fd, buf)
		if err != nil {
			return &os.PathError{Op: "read", Path: to, Err: err}
		}
		if m == 0 {
			break
		}
		if _, err := os.Stdout.Write(buf[:m]); err != nil {
			return err
		}
	}
	if err := unix.Unlink(to); err != nil {
		return &os.PathError{Op: "unlink", Path: to, Err: err}
	}
	if err := syncDir(cur); err != nil {
		return err
	}
	return syncDir(nw)
}

// first returns the name of the first entry listed in dir that does not
// begin with a dot.
func first(dir string) (string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 8<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return "", &os.PathError{Op: "getdents", Path: dir, Err: err}
		}
		if n == 0 {
			return "", errEmpty
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			if name[0] != '.' {
				return name, nil
			}
		}
	}
}

// syncDir fsyncs the directory dir.
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	err = unix.Fsync(fd)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}
