package cmd

import (
	"pq/queue"

	"github.com/urfave/cli/v2"
)

func resumeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "let receivers and workers claim from a paused queue again",
		UsageText: "pq resume QUEUE",
		Description: "Ends the pause of QUEUE (see pq pause): the receivers and workers that wait\n" +
			"on it are woken and claim again at once. Resuming a queue that is not paused\n" +
			"changes nothing.\n\n" +
			"Example: pq resume jobs",
		Action: onPauser(e, queue.Pauser.Resume),
	}
}
