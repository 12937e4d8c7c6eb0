package spool

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// renameat2NoReplace renames without replacing: fs.ErrExist (EEXIST) when
// newpath exists.
func renameat2NoReplace(oldpath, newpath string) error {
	return unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
}

// poke changes the times of dir to now, which inotify reports to whoever
// watches dir: it wakes receivers waiting on new/ when a message lands in a
// bucket below it. Only write permission on dir is needed.
func poke(dir string) {
	now := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
	_ = unix.UtimesNanoAt(unix.AT_FDCWD, dir, now, 0)
}

// syncFS makes everything written to the filesystem that holds the open
// file d durable, data and metadata, with syncfs(2). Since Linux 5.8 it
// reports the write-back errors of the filesystem that happened since d
// was opened, or since the last call on d reported one.
func syncFS(d *os.File) error {
	trace("syncfs", d.Name())
	if err := fault("syncfs", d.Name()); err != nil {
		return err
	}
	if err := syncfsCall(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", d.Name(), err)
	}
	return nil
}

// syncfsCall is syncfs(2); tests replace it to inject errors.
var syncfsCall = unix.Syncfs
