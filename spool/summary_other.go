//go:build !linux

package spool

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
)

// sumTree calls fn with the name, size and mtime of each regular file
// under dir whose name does not begin with a dot, at any depth.
func sumTree(dir string, fn func(name string, size, mtime int64)) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dir {
				return nil
			}
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		fn(d.Name(), fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
}
