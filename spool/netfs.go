package spool

import (
	"errors"
	"fmt"
	"io/fs"

	"pq/internal/netfs"
)

// NetworkFSError is the error of a receiver that refuses a queue on a
// network file system: it matches ErrNetworkFS and names the type of the
// file system.
type NetworkFSError struct {
	Queue string
	// Type is the file system's type as Linux names it: "nfs", "cifs",
	// "fuse.sshfs".
	Type string
}

// Error names the queue and the file system, and why a receiver refuses
// it.
func (e *NetworkFSError) Error() string {
	return fmt.Sprintf("queue %s is on a network file system (%s), where receivers on several hosts could take the same message: refusing to receive from it", e.Queue, e.Type)
}

// Unwrap returns ErrNetworkFS.
func (e *NetworkFSError) Unwrap() error { return ErrNetworkFS }

// CheckNetworkFS returns a [*NetworkFSError], which matches ErrNetworkFS,
// when the queue's directory is on a network file system (NFS, SMB, Ceph,
// AFS, 9p, cluster file systems, and network FUSE file systems such as
// sshfs or GlusterFS), unless [Options.AllowNetworkFS] is set. A
// [Receiver] calls it before its first claim, and claims nothing on its
// error.
//
// There, a spool's promises do not hold across hosts: a client caches
// directory listings for up to a minute, inotify sees no other host's
// changes, and the lock of a host that died lives on for the server's
// lease with nothing to fence it off, so two hosts could take the same
// message. Sending is never refused: a sender writes a file of its own in
// tmp/, under a name that holds its host's, and makes it visible with one
// rename on the server, which is safe from any number of hosts.
//
// It asks the system once per Queue, at the cost of one statfs(2) (and a
// read of the mount table for FUSE). A queue whose directory does not
// exist yet is not refused, and asked about again next time. A file
// system whose type cannot be told is not refused; the queue's logger
// gets a warning.
func (q *Queue) CheckNetworkFS() error {
	_, err := q.checkNetworkFS()
	return err
}

// checkNetworkFS is CheckNetworkFS, and says whether its answer is final.
func (q *Queue) checkNetworkFS() (final bool, err error) {
	if q.opts.AllowNetworkFS {
		return true, nil
	}
	q.netFSMu.Lock()
	defer q.netFSMu.Unlock()
	if q.netFSDone {
		return true, q.netFSErr
	}
	typ, network, err := netfs.Detect(q.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		q.log.Warn("cannot tell whether the queue is on a network file system; receiving from it", "err", err)
	case network:
		q.netFSErr = &NetworkFSError{Queue: q.name, Type: typ}
	}
	q.netFSDone = true
	return true, q.netFSErr
}
