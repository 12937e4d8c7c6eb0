package spool

import (
	"errors"
	"io/fs"

	"golang.org/x/sys/unix"
)

// sumTree calls fn with the name, size and mtime of each regular file
// under dir whose name does not begin with a dot, at any depth: one
// getdents listing of each directory, read through a descriptor, and one
// fstatat of each file relative to it, as du does.
func sumTree(dir string, fn func(name string, size, mtime int64)) error {
	fd, err := openDir(dir)
	if err != nil {
		return err
	}
	var l lister
	return l.sumAt(fd, dir, fn)
}

// sumAt is sumTree on the directory open at fd, which it closes.
func (l *lister) sumAt(fd int, dir string, fn func(name string, size, mtime int64)) error {
	defer unix.Close(fd)
	if l.buf == nil {
		l.buf = make([]byte, 64<<10)
	}
	ents, _, err := l.readAll(fd)
	if err != nil {
		return &fs.PathError{Op: "readdir", Path: dir, Err: err}
	}
	var st unix.Stat_t
	for _, e := range ents {
		if e.name[0] == '.' {
			continue
		}
		typ := e.typ
		if typ == 0 || typ == modeUnknown {
			if err := unix.Fstatat(fd, e.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue // claimed or moved meanwhile
				}
				return &fs.PathError{Op: "fstatat", Path: dir + "/" + e.name, Err: err}
			}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFREG:
				fn(e.name, st.Size, st.Mtim.Nano())
				continue
			case unix.S_IFDIR:
				typ = fs.ModeDir
			}
		}
		if typ != fs.ModeDir {
			continue
		}
		sub, err := unix.Openat(fd, e.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if errors.Is(err, unix.ENOENT) {
			continue // a bucket drained and removed meanwhile
		}
		if err != nil {
			return &fs.PathError{Op: "open", Path: dir + "/" + e.name, Err: err}
		}
		if err := l.sumAt(sub, dir+"/"+e.name, fn); err != nil {
			return err
		}
	}
	return nil
}
