// Command pq is a point-to-point message queue that lives in a spool
// directory: a queue is a directory and a message is a file. See README.md.
package main

import (
	"os"

	"pq/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args, cmd.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
