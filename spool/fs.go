package spool

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// traceFS, when set by a test, is told of every step that makes data
// durable or visible: "open-syncfs", "create", "fsync", "rename",
// "fsync-dir" and "syncfs", with the path concerned.
var traceFS func(op, path string)

// fsync syncs f, telling traceFS as op.
func fsync(op string, f *os.File) error {
	trace(op, f.Name())
	if err := fault(op, f.Name()); err != nil {
		return err
	}
	return f.Sync()
}

// trace reports op on path to traceFS.
func trace(op, path string) {
	if traceFS != nil {
		traceFS(op, path)
	}
}

// openFD opens path with open(2) and wraps the descriptor in an *os.File
// that is not registered with the runtime's poller, which regular files
// and directories gain nothing from: it costs fewer system calls than
// os.OpenFile, which matters to a pq that starts for one message.
//
// A file it creates with pq's own mode 0600 in a shared queue's directory
// gets the group's read and write instead, whatever the umask (see
// sharedDir).
func openFD(path string, flags int, perm uint32) (*os.File, error) {
	shared := false
	if flags&unix.O_CREAT != 0 {
		if err := fault("create", path); err != nil {
			return nil, err
		}
		if perm == 0o600 {
			perm = filePerm(filepath.Dir(path))
			shared = perm != 0o600
		}
	}
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, perm)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		if shared {
			unix.Fchmod(fd, perm) // the umask may have taken the group's bits
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}

// syncDir makes the entries of directory dir durable: what was created,
// renamed into or removed from it survives a crash once it returns.
func syncDir(dir string) error {
	d, err := openFD(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = fsync("fsync-dir", d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// syncDirs syncs every directory in dirs. A directory that is gone is
// skipped: a receiver removes a bucket only once it has drained it, so the
// entries that the sync was to make durable were already consumed.
//
// The deepest directories go first: on a journaling filesystem the first
// fsync commits every pending change, and the syncs of the parents, whose
// new entries it already carried, then cost next to nothing.
func syncDirs(dirs map[string]bool) error {
	list := make([]string, 0, len(dirs))
	for d := range dirs {
		list = append(list, d)
	}
	slices.SortFunc(list, func(a, b string) int {
		return cmp.Compare(strings.Count(b, string(filepath.Separator)), strings.Count(a, string(filepath.Separator)))
	})
	for _, d := range list {
		if err := syncDir(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// renameNoReplace renames oldpath to newpath and fails with fs.ErrExist
// instead of replacing a file already at newpath. Where the filesystem lacks
// renameat2(RENAME_NOREPLACE) it links the new name and unlinks the old one,
// which is equally safe: link never replaces.
func renameNoReplace(oldpath, newpath string) error {
	trace("rename", newpath)
	if err := fault("rename", newpath); err != nil {
		return err
	}
	var err error = unix.ENOSYS
	if !noRenameat2 {
		err = renameat2NoReplace(oldpath, newpath)
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		if err = link(oldpath, newpath); errors.Is(err, unix.EPERM) {
			return renameDir(oldpath, newpath)
		}
		if err != nil {
			return err
		}
		return remove(oldpath)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

// renameDir is the fallback of renameNoReplace for a directory, which
// cannot be linked: a plain rename, after a look that newpath is free
// (rename would replace an empty directory there).
func renameDir(oldpath, newpath string) error {
	if fi, err := os.Lstat(oldpath); err != nil || !fi.IsDir() {
		return &os.LinkError{Op: "link", Old: oldpath, New: newpath, Err: unix.EPERM}
	}
	if _, err := os.Lstat(newpath); err == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrExist}
	}
	return rename(oldpath, newpath)
}

// noRenameat2 makes renameNoReplace use its fallback, as on a filesystem
// without renameat2; tests set it.
var noRenameat2 bool

// mkdirs creates dir and any missing parents below stop, recording in
// created the parents whose entries changed and so need a sync. A directory
// that another process creates at the same moment is no error.
func mkdirs(stop, dir string, created map[string]bool) error {
	if dir == stop {
		return nil
	}
	err := mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrNotExist) {
		if err = mkdirs(stop, filepath.Dir(dir), created); err != nil {
			return err
		}
		err = mkdir(dir, 0o700)
	}
	switch {
	case err == nil:
		created[filepath.Dir(dir)] = true
		return nil
	case errors.Is(err, fs.ErrExist):
		return nil
	default:
		return fmt.Errorf("create %s: %w", dir, err)
	}
}

// syncFiles fsyncs files, several at once so that the filesystem can commit
// them together, and returns the first error.
func syncFiles(files []*os.File) error {
	const workers = 32
	if len(files) == 1 {
		return fsync("fsync", files[0])
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan *os.File)
	)
	n := min(workers, len(files))
	wg.Add(n)
	for range n {
		go func() {
			defer wg.Done()
			for f := range next {
				if err := fsync("fsync", f); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("sync %s: %w", f.Name(), err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range files {
		next <- f
	}
	close(next)
	wg.Wait()
	return first
}

// hooks, when set by a test, runs at named points of a claim or a
// recovery, to let another party act in the window there.
var hooks func(point, path string)

// hook runs hooks at point.
func hook(point, path string) {
	if hooks != nil {
		hooks(point, path)
	}
}
