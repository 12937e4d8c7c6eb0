package cmd

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// initOptions are the arguments of pq init.
type initOptions struct {
	queue string
	set   map[string]string // settings to write, by key
}

func initCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create a queue, or change its settings",
		UsageText: "pq init [--set KEY=VALUE]... QUEUE",
		Description: "Creates the queue's directories. On a queue that exists it changes nothing,\n" +
			"but for the settings that --set gives: ttl (a duration, the time to live of\n" +
			"every message sent without --ttl; \"0s\" for none), on_expiry\n" +
			"(\"dead-letter\" or \"drop\") and dedup_window (a duration up to 24h, how long\n" +
			"pq send --dedup-id KEY remembers KEY; 5m by default). They are kept in the\n" +
			"queue's .settings file.\n\n" +
			"Example:\n" +
			"  pq init --set ttl=1h --set on_expiry=drop metrics",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "set", Usage: "set the queue setting `KEY=VALUE` (repeatable)"},
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
	if len(o.set) == 0 {
		return nil
	}
	return q.Set(o.set)
}
