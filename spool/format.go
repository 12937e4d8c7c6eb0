package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
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

// Format is the newest version of the on-disk format that this package
// reads and writes. A pq that finds a newer one refuses the queue rather
// than take entries it does not know for strays. A queue is made with
// format 1 and raised to 2 when its first message with a priority other
// than the default makes the tree of that priority in new/ (see
// [Queue.tree]), so that a pq from before priorities refuses the queue
// rather than take such a tree for a stray directory; until then, pq of
// either version reads it. The first atomic batch (see
// [Queue.NewAtomicBatch]) raises it to 3 likewise, so that no pq from
// before atomic batches takes a batch's directory for a stray; and the
// first message of a group (see [SendOptions]) to 4, so that no pq from
// before groups hands out a group's messages at once; and making the queue
// encrypted (see [Queue.EncryptTo]) to 5, so that no pq from before
// encryption delivers ciphertext as bodies.
const Format = 5

// baseFormat is the format of a new queue; priorityFormat is the format of
// a queue that has a tree of priority in new/.
const (
	baseFormat     = 1
	priorityFormat = 2
)

// formatText is the content of the stamp of format v.
func formatText(v int) string { return fmt.Sprintf("pq queue format %d\n", v) }

// checkFormat refuses a queue stamped with a newer format than Format. A
// missing stamp is format 1.
func (q *Queue) checkFormat() error {
	if t := q.formatOK.Load(); t != 0 && time.Since(time.Unix(0, t)) < formatRecheck {
		return nil
	}
	if _, err := q.readFormat(); err != nil {
		return err
	}
	q.formatOK.Store(time.Now().UnixNano())
	return nil
}

// readFormat returns the queue's format, refusing one newer than Format.
func (q *Queue) readFormat() (int, error) {
	b, err := readFile(filepath.Join(q.dir, formatName))
	if errors.Is(err, fs.ErrNotExist) {
		return baseFormat, nil
	}
	if err != nil {
		return 0, fmt.Errorf("queue %s: %w", q.name, err)
	}
	f := strings.Fields(string(b))
	v := 0
	if len(f) == 4 && f[0] == "pq" && f[1] == "queue" && f[2] == "format" {
		v, _ = strconv.Atoi(f[3])
	}
	if v < 1 {
		return 0, fmt.Errorf("queue %s: %w: %s says %q", q.name, ErrFormat, formatName, strings.TrimSpace(string(b)))
	}
	if v > Format {
		return 0, fmt.Errorf("queue %s: %w: it has format %d, this pq knows up to %d; use a newer pq", q.name, ErrFormat, v, Format)
	}
	return v, nil
}

// raiseFormat stamps the queue with format v unless it has it or a newer
// one already: write a new stamp in tmp/, fsync it, rename it over the old
// one, fsync the queue directory. Two processes raising it at once write
// the same stamp.
func (q *Queue) raiseFormat(v int) error {
	if q.raised.Load() >= int32(v) {
		return nil
	}
	cur, err := q.readFormat()
	if err != nil {
		return err
	}
	if cur < v {
		tmp := filepath.Join(q.tmp, fmt.Sprintf(".format-%d-%d", os.Getpid(), rand.Uint32()))
		if err := q.replaceFile(filepath.Join(q.dir, formatName), tmp, []byte(formatText(v))); err != nil {
			return fmt.Errorf("queue %s: raise format: %w", q.name, err)
		}
	}
	q.raised.Store(int32(v))
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
	_, err = f.WriteString(formatText(baseFormat))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	created[dir] = true
	return err
}
