package cmd_test

import (
	"os"

	"pq/cmd"
	"pq/internal/netfs"
)

// pqOnNFS is the script command "pq-on-nfs ARGS...": pq, with every
// directory on NFS as far as its network file system check can tell
// (statfs reports NFS's magic number). Only the test binary has it.
func pqOnNFS() {
	watchdog()
	netfs.Magic = func(path string) (uint32, error) {
		_, err := os.Stat(path)
		return 0x6969, err // NFS_SUPER_MAGIC
	}
	args := append([]string{"pq"}, os.Args[1:]...)
	os.Exit(cmd.Main(args, cmd.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
