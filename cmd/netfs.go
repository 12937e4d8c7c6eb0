package cmd

import (
	"errors"

	"github.com/urfave/cli/v2"

	"pq/spool"
)

// allowNetworkFSFlag is --allow-network-fs, of pq recv.
func allowNetworkFSFlag() cli.Flag {
	return &cli.BoolFlag{Name: "allow-network-fs", Usage: "receive from a queue on a network file system (NFS, SMB, sshfs...), where one host alone receives (default: the config's allow_network_fs)"}
}

// useNetworkFS reads --allow-network-fs, over the config's
// allow_network_fs, for the queues that e opens from now on.
func (e *env) useNetworkFS(c *cli.Context) {
	e.allowNetworkFS = e.cfg.AllowNetworkFS
	if c.IsSet("allow-network-fs") {
		e.allowNetworkFS = c.Bool("allow-network-fs")
	}
}

// checkNetworkFS refuses a queue on a network file system, before
// anything is claimed or recovered, with a hint on what to do instead.
func checkNetworkFS(q *spool.Queue) error {
	err := q.CheckNetworkFS()
	if errors.Is(err, spool.ErrNetworkFS) {
		return withHint(err, "keep the spool on a local disk, or give a nats:// root to receive on several hosts; where one host alone receives, pass --allow-network-fs (or set allow_network_fs = true in the config)")
	}
	return err
}
