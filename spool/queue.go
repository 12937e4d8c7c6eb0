package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"pq/seal"
)

// now is the clock; tests replace it.
var now = time.Now

// Subdirectories of a queue directory.
const (
	dirTmp = "tmp"
	dirNew = "new"
	dirCur = "cur"
	dirDLQ = "dlq"
	// dirDue holds delayed messages in buckets of their due time, out of
	// receivers' way until then.
	dirDue = ".due"
	// dirMeta holds the metadata files of messages whose names say m=1.
	dirMeta = ".meta"
	// dirStray holds what was found where no message can be, moved aside.
	dirStray = ".quarantine"
)

// Options tune a Queue. The zero value is the safe default.
type Options struct {
	// NoSync skips every fsync. Messages then survive a crash of pq but
	// not of the machine. It exists for benchmarks and throwaway queues.
	NoSync bool
	// Logger receives what pq does on its own, such as recovering a dead
	// consumer's claim. Nil discards it.
	Logger *slog.Logger
	// Settings are settings from a configuration file, for where the
	// queue's own settings file says nothing; a TTL here can only shorten
	// the queue's own. See [Queue.Settings].
	Settings Settings
	// Identities open the messages of an encrypted queue (see
	// [Queue.EncryptTo]); nil for none. Sending needs none.
	Identities *seal.Identities
	// AllowNetworkFS lets receivers claim from a queue on a network
	// file system, which they refuse by default (see
	// [Queue.CheckNetworkFS]): for a setup where one host alone
	// receives.
	AllowNetworkFS bool
}

// Queue is one queue: a directory <root>/<name> holding tmp/, new/, cur/ and
// dlq/. A Queue is safe for concurrent use by several goroutines, and any
// number of processes may open the same queue at once.
type Queue struct {
	name string
	dir  string
	tmp  string
	new  string
	cur  string
	dlq  string
	due  string
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	warned   map[string]bool // what warnOnce reported
	formatOK atomic.Int64    // when the format stamp was last read and known
	raised   atomic.Int32    // the format this Queue has made sure the stamp has

	// What CheckNetworkFS found, once it could tell.
	netFSMu   sync.Mutex
	netFSDone bool
	netFSErr  error
}

// Open returns the queue called name under root. It checks the name but does
// not touch the disk: see [Queue.Create] and [Queue.Check].
func Open(root, name string, opts Options) (*Queue, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, name)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{
		name: name,
		dir:  dir,
		tmp:  filepath.Join(dir, dirTmp),
		new:  filepath.Join(dir, dirNew),
		cur:  filepath.Join(dir, dirCur),
		dlq:  filepath.Join(dir, dirDLQ),
		due:  filepath.Join(dir, dirDue),
		opts: opts,
		log:  log.With("queue", name),
	}, nil
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Dir returns the queue's directory.
func (q *Queue) Dir() string { return q.dir }

// Create makes the queue's directories, and the root above them with mode
// 0700, where they are missing, and makes them durable. On a queue that
// exists it changes nothing. A new queue is built under a hidden name and
// renamed into place, so that no process ever sees half a queue.
func (q *Queue) Create() error {
	root := filepath.Dir(q.dir)
	created := map[string]bool{}
	if err := mkdirRoot(root, created); err != nil {
		return err
	}
	if _, err := os.Stat(q.dir); errors.Is(err, fs.ErrNotExist) {
		if err := q.createWhole(root, created); err != nil {
			return err
		}
	}
	// Complete a queue that another tool made by hand.
	for _, d := range []string{q.tmp, q.new, q.cur, q.dlq} {
		if err := mkdirs(root, d, created); err != nil {
			return fmt.Errorf("create queue %s: %w", q.name, err)
		}
	}
	if err := q.checkFormat(); err != nil {
		return err
	}
	if err := writeStamp(q.dir, created); err != nil {
		return fmt.Errorf("create queue %s: %w", q.name, err)
	}
	if q.opts.NoSync {
		return nil
	}
	return syncDirs(created)
}

// createWhole builds the queue directory under a hidden name and renames
// it into place. Losing the race to another process is no error.
func (q *Queue) createWhole(root string, created map[string]bool) error {
	build, err := os.MkdirTemp(root, ".create-"+q.name+"-")
	if err != nil {
		return fmt.Errorf("create queue %s: %w", q.name, err)
	}
	defer os.RemoveAll(build)
	for _, d := range []string{dirTmp, dirNew, dirCur, dirDLQ} {
		if err := mkdir(filepath.Join(build, d), 0o700); err != nil {
			return fmt.Errorf("create queue %s: %w", q.name, err)
		}
	}
	if err := writeStamp(build, map[string]bool{}); err != nil {
		return fmt.Errorf("create queue %s: %w", q.name, err)
	}
	if !q.opts.NoSync {
		if err := syncDir(build); err != nil {
			return fmt.Errorf("create queue %s: %w", q.name, err)
		}
	}
	err = renameat2NoReplace(build, q.dir)
	switch {
	case err == nil:
		created[root] = true
	case errors.Is(err, unix.EEXIST), errors.Is(err, unix.ENOTEMPTY):
		// Another process created it first.
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		// No renameat2 here: the caller makes the directories in place.
	default:
		return fmt.Errorf("create queue %s: %w", q.name, err)
	}
	return nil
}

// mkdirRoot creates the spool root and its missing parents.
func mkdirRoot(root string, created map[string]bool) error {
	if _, err := os.Stat(root); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return fmt.Errorf("create spool root %s: %w", root, err)
	}
	err := mkdir(root, 0o700)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create spool root %s: %w", root, err)
	}
	created[filepath.Dir(root)] = true
	return nil
}

// Check reports whether the queue exists: nil when it does, an error
// matching ErrNoQueue when its directory is missing, and one matching
// ErrNotQueue when the directory lacks a queue's subdirectories, and one
// matching ErrFormat when it has a format this pq does not know.
func (q *Queue) Check() error {
	if _, err := os.Stat(q.dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("queue %s: %w", q.name, ErrNoQueue)
		}
		return fmt.Errorf("queue %s: %w", q.name, err)
	}
	for _, d := range []string{q.tmp, q.new, q.cur, q.dlq} {
		fi, err := os.Stat(d)
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("queue %s: %w (it is shared with a group you are not in, or not shared)", q.name, fs.ErrPermission)
		}
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("queue %s: %w: %s is missing", q.name, ErrNotQueue, filepath.Base(d))
		}
	}
	return q.checkFormat()
}

// sync is syncDir unless the queue runs without syncs.
func (q *Queue) sync(dir string) error {
	if q.opts.NoSync {
		return nil
	}
	return syncDir(dir)
}

// ownDir makes, when it is missing, the directory of pq's own called name
// in the queue directory (.meta, .groups), and then fsyncs the queue
// directory, so that what is later made durable in it is reachable after
// a crash too. It returns the directory's path.
func (q *Queue) ownDir(name string) (string, error) {
	dir := filepath.Join(q.dir, name)
	err := mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrExist) {
		return dir, nil
	}
	if err != nil {
		return dir, err
	}
	return dir, q.sync(q.dir)
}
