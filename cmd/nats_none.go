//go:build pq_nonats

package cmd

import (
	"context"
	"errors"
	"time"

	"pq/config"
	"pq/queue"
)

// errNoNATS is what every use of a NATS root gets from a pq built with the
// tag pq_nonats, which leaves the NATS backend out for a quicker start.
var errNoNATS = errors.New("this pq was built without NATS JetStream (the build tag pq_nonats): build it without that tag for a nats:// root")

// natsState is empty without NATS.
type natsState struct{}

func natsInitDefaults() (int, time.Duration, int) { return 1, 30 * time.Second, 1000 }

func backendHint(error) string { return "" }

func (e *env) natsBackend(context.Context) (queue.Backend, error) { return nil, errNoNATS }

func (e *env) closeNATS() {}

func runInitNATS(context.Context, *env, initOptions, int, time.Duration, int) error {
	return errNoNATS
}

func natsQueues(*env) ([]string, error) { return nil, errNoNATS }

func openExistingNATS(context.Context, *env, string) (queue.Queue, error) { return nil, errNoNATS }

func natsQueueNames(string, config.Config) ([]string, error) { return nil, errNoNATS }
