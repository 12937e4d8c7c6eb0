package worker

import (
	"errors"

	"golang.org/x/sys/unix"
)

// waitExit blocks until the process pid has exited, without reaping it: its
// id, and that of the process group it leads, cannot be reused until it is.
func waitExit(pid int) error {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
