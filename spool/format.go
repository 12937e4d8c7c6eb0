package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// formatName is the file of pq's own that stamps a queue directory with
// the version of its format. A queue without it has format 1.
const formatName = ".format"

// Format is the version of the on-disk format that this package writes
// and reads. A pq that finds a newer one refuses the queue rather than
// take entries it does not know for strays.
const Format = 1

// formatText is the content of the stamp.
func formatText() string { return fmt.Sprintf("pq queue format %d\n", Format) }

// checkFormat refuses a queue stamped with a newer format than Format. A
// missing stamp is format 1.
func (q *Queue) checkFormat() error {
	if t := q.formatOK.Load(); t != 0 && time.Since(time.Unix(0, t)) < formatRecheck {
		return nil
	}
	b, err := readFile(filepath.Join(q.dir, formatName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue %s: %w", q.name, err)
	}
	f := strings.Fields(string(b))
	v := 0
	if len(f) == 4 && f[0] == "pq" && f[1] == "queue" && f[2] == "format" {
		v, _ = strconv.Atoi(f[3])
	}
	if v < 1 {
		return fmt.Errorf("queue %s: %w: %s says %q", q.name, ErrFormat, formatName, strings.TrimSpace(string(b)))
	}
	if v > Format {
		return fmt.Errorf("queue %s: %w: it has format %d, this pq knows up to %d; use a newer pq", q.name, ErrFormat, v, Format)
	}
	q.formatOK.Store(time.Now().UnixNano())
	return nil
}

// formatRecheck is how long a Queue trusts the format stamp it read: a
// long-running receiver notices within that time that a newer pq has
// changed the queue's format under it.
const formatRecheck = 10 * time.Second

// readFile reads a small file of pq's own, as os.ReadFile does but without
// the runtime poller (see openFD).
func readFile(path string) ([]byte, error) {
	f, err := openFD(path, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// writeStamp writes the format stamp into the queue directory dir unless
// one is there, recording dir in created when it did.
func writeStamp(dir string, created map[string]bool) error {
	f, err := os.OpenFile(filepath.Join(dir, formatName), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = f.WriteString(formatText())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	created[dir] = true
	return err
}
