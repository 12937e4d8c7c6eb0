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
	if natsRoot(e.root) {
		// No queue is encrypted there; an identity from the
		// environment or the configuration is for the spool's.
		if flag != "" {
			return unsupported(e, "--identity")
		}
		return nil
	}
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
	return identityHint(q.CheckIdentity(), q.Name())
}

// identityHint adds to err, when it is a missing or wrong identity for
// the encrypted queue called name, how to give the right one.
func identityHint(err error, name string) error {
	switch {
	case errors.Is(err, seal.ErrNoIdentity):
		return withHint(err, "give --identity FILE, set $PQ_IDENTITY, or set identity in the config")
	case errors.Is(err, seal.ErrWrongIdentity):
		return withHint(err, "the queue's recipients are listed in %s/.recipients: use the identity of one of them", name)
	}
	return err
}

// execSealed refuses --to where either queue is encrypted: the command's
// output, and the input's headers that it keeps, would be written in
// plaintext.
func execSealed(e *env, q *spool.Queue, to string) error {
	if to == "" {
		return nil
	}
	tq, err := e.queue(to)
	if err != nil {
		return err
	}
	for _, x := range []*spool.Queue{q, tq} {
		rs, err := x.Recipients()
		if err != nil {
			return err
		}
		if rs != nil {
			return usagef("recv: --to with an encrypted queue (%s) is not supported yet", x.Name())
		}
	}
	return nil
}

// sameSeal refuses a move between queues that are not both plain, or both
// encrypted to the same recipients: a message moves as it is, ciphertext
// and all.
func sameSeal(q, to *spool.Queue) error {
	a, err := q.Recipients()
	if err != nil {
		return err
	}
	b, err := to.Recipients()
	if err != nil {
		return err
	}
	if string(seal.FormatRecipients(a)) != string(seal.FormatRecipients(b)) {
		return usagef("mv: %s and %s are not encrypted to the same recipients, and a message moves as it is", q.Name(), to.Name())
	}
	return nil
}
