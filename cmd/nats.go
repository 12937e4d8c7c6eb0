package cmd

import (
	"context"
	"errors"

	"pq/queue"
)

// natsBackend connects to the NATS root, once per run.
func (e *env) natsBackend(ctx context.Context) (queue.Backend, error) {
	if e.nats != nil {
		return e.nats, nil
	}
	return nil, errors.New("nats: not built in")
}
