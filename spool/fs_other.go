//go:build !linux

package spool

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// renameat2NoReplace is not available here: callers fall back to link and
// unlink.
func renameat2NoReplace(oldpath, newpath string) error { return unix.ENOSYS }

// poke changes the times of dir to wake receivers that watch it.
func poke(dir string) {
	t := time.Now()
	_ = os.Chtimes(dir, t, t)
}

// syncFS is not available here: callers fsync each file and directory.
func syncFS(*os.File) error { return errors.ErrUnsupported }
