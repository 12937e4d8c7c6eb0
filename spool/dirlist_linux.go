package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// read lists dir with getdents64, growing the buffer until one call returns
// the whole directory, up to maxListBuf.
func (l *lister) read(dir string) ([]entry, error) {
	fd, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if l.buf == nil {
		l.buf = make([]byte, 32<<10)
	}
	for {
		ents, whole, err := l.readAll(fd)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: dir, Err: err}
		}
		if whole || len(l.buf) >= maxListBuf {
			return ents, nil
		}
		l.buf = make([]byte, min(4*len(l.buf), maxListBuf))
		if _, err := unix.Seek(fd, 0, 0); err != nil {
			return nil, &fs.PathError{Op: "seek", Path: dir, Err: err}
		}
	}
}

// openDir opens dir for listing, never following a symbolic link.
func openDir(dir string) (int, error) {
	for {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: dir, Err: err}
		}
		return fd, nil
	}
}

// readAll reads every entry of the directory open at fd, and reports
// whether the first call returned them all.
func (l *lister) readAll(fd int) ([]entry, bool, error) {
	var ents []entry
	for calls := 0; ; calls++ {
		n, err := unix.Getdents(fd, l.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if n == 0 {
			return ents, calls <= 1, nil
		}
		ents, err = parseDirents(l.buf[:n], ents)
		if err != nil {
			return nil, false, err
		}
	}
}

// parseDirents appends the linux_dirent64 records in b to ents, leaving out
// "." and "..".
func parseDirents(b []byte, ents []entry) ([]entry, error) {
	for len(b) > 0 {
		if len(b) < 19 {
			return nil, fmt.Errorf("short directory record")
		}
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < 19 || reclen > len(b) {
			return nil, fmt.Errorf("bad directory record length %d", reclen)
		}
		rec := b[:reclen]
		b = b[reclen:]
		name := rec[19:]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if string(name) == "." || string(name) == ".." {
			continue
		}
		ents = append(ents, entry{
			name: string(name),
			typ:  direntType(rec[18]),
			ino:  binary.NativeEndian.Uint64(rec[0:8]),
		})
	}
	return ents, nil
}

// direntType maps a d_type to a file mode type.
func direntType(t byte) fs.FileMode {
	switch t {
	case unix.DT_REG:
		return 0
	case unix.DT_DIR:
		return fs.ModeDir
	case unix.DT_LNK:
		return fs.ModeSymlink
	case unix.DT_FIFO:
		return fs.ModeNamedPipe
	case unix.DT_SOCK:
		return fs.ModeSocket
	case unix.DT_CHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.DT_BLK:
		return fs.ModeDevice
	}
	return modeUnknown
}
