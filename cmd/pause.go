package cmd

import (
	"pq/queue"

	"github.com/urfave/cli/v2"
)

func pauseCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "stop receivers and workers from claiming from a queue",
		UsageText: "pq pause QUEUE",
		Description: "Pauses QUEUE: until 'pq resume QUEUE', no receiver or worker claims a\n" +
			"message from it. Sends still succeed, and pq stat, ls and peek still work.\n" +
			"Running workers keep running: the jobs they run finish, and they claim again\n" +
			"as soon as the queue is resumed. The pause is kept in the queue directory and\n" +
			"survives a reboot. Pausing a paused queue changes nothing. On a nats:// root\n" +
			"the queue's consumer is paused on the server, for receivers on every host.\n\n" +
			"Example: pq pause jobs",
		Action: onPauser(e, queue.Pauser.Pause),
	}
}
