package cmd

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"

	"pq/seal"
	"pq/spool"
)

// identityFlag is --identity, of the commands that read message bodies.
func identityFlag() cli.Flag {
	return &cli.StringFlag{Name: "identity", Aliases: []string{"i"}, Usage: "open an encrypted queue's messages with the age identity file `FILE`", DefaultText: "$PQ_IDENTITY, or the config's identity"}
}

// useIdentity loads the identity file that opens encrypted queues: flag,
// else $PQ_IDENTITY, else the config's identity; none when all are empty.
func (e *env) useIdentity(flag string) error {
	path := flag
	if path == "" {
		path = os.Getenv("PQ_IDENTITY")
	}
	if path == "" {
		path = e.cfg.Identity
	}
	if path == "" {
		return nil
	}
	ids, err := seal.LoadIdentities(path)
	if err != nil {
		return err
	}
	e.ids = ids
	return nil
}

// checkIdentity refuses an encrypted queue without an identity of one of
// its recipients, before anything is claimed.
func checkIdentity(q *spool.Queue) error {
	err := q.CheckIdentity()
	switch {
	case errors.Is(err, seal.ErrNoIdentity):
		return withHint(err, "give --identity FILE, set $PQ_IDENTITY, or set identity in the config")
	case errors.Is(err, seal.ErrWrongIdentity):
		return withHint(err, "the queue's recipients are listed in %s/.recipients: use the identity of one of them", q.Name())
	}
	return err
}

// execSealed refuses a worker on an encrypted queue.
func execSealed(q *spool.Queue) error {
	rs, err := q.Recipients()
	if err != nil || rs == nil {
		return err
	}
	return usagef("recv: workers on encrypted queues are not supported yet")
}
