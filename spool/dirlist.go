package spool

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// entry is one name in a directory listing, with what the listing said of
// it: its type, and its inode number where the system gives one.
type entry struct {
	name string
	typ  fs.FileMode // fs.ModeDir, 0 for a regular file, another type bit, or modeUnknown
	ino  uint64
}

// modeUnknown marks an entry whose type the listing did not give; lstat
// tells.
const modeUnknown = fs.ModeIrregular

// maxListBuf bounds the buffer that a listing grows to in order to read a
// directory in one system call, and so as one snapshot: 8 MiB, some hundred
// thousand names.
const maxListBuf = 8 << 20

// lister lists directories, reusing its buffer.
type lister struct {
	buf []byte
}

// list returns the entries of dir whose names sort after after and do not
// begin with a dot, in name order. Where it can, it reads the whole
// directory in one system call, which the kernel serves under the
// directory's lock: the listing is then a snapshot, so that of two names
// renamed into dir one after the other, it never holds the second without
// the first.
func (l *lister) list(dir, after string) ([]entry, error) {
	ents, err := l.read(dir)
	if err != nil {
		return nil, err
	}
	out := ents[:0]
	for _, e := range ents {
		if e.name > after && !strings.HasPrefix(e.name, ".") {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// kind returns the type of the entry e of dir, asking lstat when the
// listing did not say. A name that is gone reports fs.ErrNotExist.
func kind(dir string, e entry) (fs.FileMode, error) {
	if e.typ != modeUnknown {
		return e.typ, nil
	}
	fi, err := os.Lstat(filepath.Join(dir, e.name))
	if err != nil {
		return 0, err
	}
	return fi.Mode().Type(), nil
}
