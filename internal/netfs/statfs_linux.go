package netfs

import "golang.org/x/sys/unix"

// statfsMagic returns the f_type of statfs(2). Every magic number fits
// in 32 bits, which is all that f_type holds on some platforms.
func statfsMagic(path string) (uint32, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return uint32(st.Type), nil
}
