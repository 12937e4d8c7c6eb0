package cmd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"pq/seal"
	"pq/spool"
	"pq/users"
)

// initOptions are the arguments of pq init.
type initOptions struct {
	queue string
	set   map[string]string // settings to write, by key
	// recipients, when any, make the queue encrypted to them.
	recipients []seal.Recipient
	// group, when not empty, is the Unix group to share the queue with,
	// in mode.
	group string
	mode  spool.ShareMode
}

func initCommand(e *env) *cli.Command {
	replicas, ackWait, maxDeliver := natsInitDefaults()
	return &cli.Command{
		Name:  "init",
		Usage: "create a queue, or change its settings",
		UsageText: "pq init [--set KEY=VALUE]... [--encrypt-to RECIPIENT|@FILE]... [--group G [--mode both|recv|send]] QUEUE\n" +
			"pq --root nats://HOST:PORT init [--replicas N] [--ack-wait DUR] [--max-deliver N] [--set dedup_window=DUR] QUEUE",
		Description: "Creates the queue's directories. On a queue that exists it changes nothing,\n" +
			"but for the settings that --set gives: ttl (a duration, the time to live of\n" +
			"every message sent without --ttl; \"0s\" for none), on_expiry\n" +
			"(\"dead-letter\" or \"drop\") and dedup_window (a duration up to 24h, how long\n" +
			"pq send --dedup-id KEY remembers KEY; 5m by default). They are kept in the\n" +
			"queue's .settings file.\n\n" +
			"With --encrypt-to, the queue becomes encrypted: every message's body and\n" +
			"headers are encrypted with age to each RECIPIENT (an age1... public key, or\n" +
			"@FILE, a file of them one per line), kept in the queue's .recipients file, and\n" +
			"pq recv and pq peek need --identity. Given again, it replaces the recipients.\n\n" +
			"With --group G, the queue is shared with the Unix group G: with --mode both\n" +
			"(the default) its members may send and receive, with --mode recv only\n" +
			"receive, with --mode send only send (a drop box: they can list, read or\n" +
			"take nothing); others get nothing. The spool root must be one they can reach.\n\n" +
			"On a nats:// root, init creates or updates the queue's streams and consumer:\n" +
			"--replicas (1, 3 or 5) servers keep each message, a claim lapses after\n" +
			"--ack-wait without a renewal, and --max-deliver bounds the server's deliveries\n" +
			"(above any worker's --max-attempts). Given again, they change the queue.\n\n" +
			"Examples:\n" +
			"  pq init --set ttl=1h --set on_expiry=drop metrics\n" +
			"  pq init --encrypt-to age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p orders\n" +
			"  pq --root /var/spool/pq init --group web --mode recv mail\n" +
			"  pq --root nats://nats1:4222,nats2:4222,nats3:4222 init --replicas 3 jobs",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "set", Usage: "set the queue setting `KEY=VALUE` (repeatable)"},
			&cli.StringSliceFlag{Name: "encrypt-to", Usage: "encrypt the queue's messages to the age public key `RECIPIENT`, or to each in @FILE (repeatable)"},
			&cli.StringFlag{Name: "group", Usage: "share the queue with the Unix group `G` (a name or a gid)"},
			&cli.StringFlag{Name: "mode", Usage: "with --group, what its members may do: `both` (send and receive), recv (receive only) or send (a drop box)", DefaultText: "both"},
			&cli.IntFlag{Name: "replicas", Usage: "on a nats:// root, keep the queue on `N` servers: 1, 3 or 5", DefaultText: strconv.Itoa(replicas)},
			&cli.DurationFlag{Name: "ack-wait", Usage: "on a nats:// root, let a claim lapse after `DUR` without a renewal", DefaultText: ackWait.String()},
			&cli.IntFlag{Name: "max-deliver", Usage: "on a nats:// root, the server's delivery limit `N`, above any worker's --max-attempts", DefaultText: strconv.Itoa(maxDeliver)},
		},
		Action: func(c *cli.Context) error {
			name, err := oneQueue(c)
			if err != nil {
				return err
			}
			o := initOptions{queue: name, set: map[string]string{}}
			for _, kv := range c.StringSlice("set") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return usagef("init: --set %q is not KEY=VALUE", kv)
				}
				o.set[k] = v
			}
			o.group, o.mode = c.String("group"), spool.ShareMode(c.String("mode"))
			if o.mode == "" {
				o.mode = spool.ShareBoth
			}
			if c.IsSet("mode") && o.group == "" {
				return usagef("init: --mode goes with --group")
			}
			if o.mode != spool.ShareBoth && o.mode != spool.ShareRecv && o.mode != spool.ShareSend {
				return usagef("init: --mode must be both, recv or send, not %q", o.mode)
			}
			if rs := c.StringSlice("encrypt-to"); len(rs) > 0 {
				if o.recipients, err = seal.ParseRecipients(rs); err != nil {
					return usagef("init: --encrypt-to: %v", err)
				}
			}
			if natsRoot(e.root) {
				return runInitNATS(c.Context, e, o, c.Int("replicas"), c.Duration("ack-wait"), c.Int("max-deliver"))
			}
			for _, f := range []string{"replicas", "ack-wait", "max-deliver"} {
				if c.IsSet(f) {
					return usagef("init: --%s goes with a nats:// root", f)
				}
			}
			return runInit(e, o)
		},
	}
}

func runInit(e *env, o initOptions) error {
	q, err := e.queue(o.queue)
	if err != nil {
		return err
	}
	if err := q.Create(); err != nil {
		return err
	}
	if len(o.set) > 0 {
		if err := q.Set(o.set); err != nil {
			return err
		}
	}
	if o.group != "" {
		gid, err := users.System.GID(o.group)
		if err != nil {
			return usagef("init: --group: %v", err)
		}
		if err := q.Share(int(gid), o.mode); err != nil {
			return err
		}
	}
	if len(o.recipients) == 0 {
		return nil
	}
	if err := plainMessages(q); err != nil {
		return err
	}
	return q.EncryptTo(o.recipients)
}

// plainMessages refuses to encrypt a queue that is not encrypted yet and
// holds messages, which would then be dead letters: sent in plaintext,
// they are no age files.
func plainMessages(q *spool.Queue) error {
	rs, err := q.Recipients()
	if err != nil || rs != nil {
		return err
	}
	st, err := q.Stat()
	if err != nil {
		return err
	}
	if n := st.Ready + st.Delayed + st.Claimed; n > 0 {
		return withHint(fmt.Errorf("init: queue %s holds %d messages sent in plaintext; encrypt it empty", q.Name(), n),
			"receive them first, or move them with 'pq mv' to another queue")
	}
	return nil
}
