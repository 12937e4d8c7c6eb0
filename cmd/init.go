package cmd

import (
	"github.com/urfave/cli/v2"
)

func initCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:        "init",
		Usage:       "create a queue",
		UsageText:   "pq init QUEUE",
		Description: "Creates the queue's directories. On a queue that exists it changes nothing.",
		Action: func(c *cli.Context) error {
			name, err := oneQueue(c)
			if err != nil {
				return err
			}
			q, err := e.queue(name)
			if err != nil {
				return err
			}
			return q.Create()
		},
	}
}
