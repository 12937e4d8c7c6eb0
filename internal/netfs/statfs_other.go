//go:build !linux

package netfs

// statfsMagic detects nothing here: 0 is no file system's number.
func statfsMagic(string) (uint32, error) { return 0, nil }
