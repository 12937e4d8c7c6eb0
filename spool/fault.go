package spool

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// faultFS, when set by a test, is asked before each step by which package
// spool changes the file system, and fails the step with the error it
// returns, the step left undone: "create" (a new file), "write" (of a
// message's body or of a file of pq's own), "fsync" (of a file),
// "fsync-dir", "syncfs", "rename", "link", "mkdir" and "unlink". With it,
// tests fail the Nth step of a kind (ENOSPC, EIO, EDQUOT) on every path
// and check that nothing is lost or half visible (see fault_test.go).
var faultFS func(op, path string) error

// fault returns the error that faultFS has for op on path, if any.
func fault(op, path string) error {
	if faultFS == nil {
		return nil
	}
	if err := faultFS(op, path); err != nil {
		return &fs.PathError{Op: op, Path: path, Err: err}
	}
	return nil
}

// remove is os.Remove, through faultFS.
func remove(path string) error {
	if err := fault("unlink", path); err != nil {
		return err
	}
	return os.Remove(path)
}

// rename is os.Rename, through faultFS. pq renames with renameNoReplace
// wherever a name might be taken.
func rename(from, to string) error {
	if err := fault("rename", to); err != nil {
		return err
	}
	return os.Rename(from, to)
}

// mkdir is os.Mkdir, through faultFS. A directory made with pq's own mode
// 0700 in a shared queue's directory gets the group's bits and setgid
// instead, whatever the umask (see sharedDir).
func mkdir(path string, perm os.FileMode) error {
	if err := fault("mkdir", path); err != nil {
		return err
	}
	if perm != 0o700 {
		return os.Mkdir(path, perm)
	}
	perm = dirPerm(filepath.Dir(path))
	if err := os.Mkdir(path, perm); err != nil || perm == 0o700 {
		return err
	}
	return os.Chmod(path, perm) // the umask may have taken the group's bits
}

// link is os.Link, through faultFS.
func link(from, to string) error {
	if err := fault("link", to); err != nil {
		return err
	}
	return os.Link(from, to)
}

// faultWriter passes writes to w through faultFS, as writes of path.
type faultWriter struct {
	w    io.Writer
	path string
}

func (f faultWriter) Write(p []byte) (int, error) {
	if err := fault("write", f.path); err != nil {
		return 0, err
	}
	return f.w.Write(p)
}

// writerOf returns f, or f through faultFS while a test has set it.
func writerOf(f *os.File) io.Writer {
	if faultFS == nil {
		return f
	}
	return faultWriter{f, f.Name()}
}
