package cmd

import (
	"context"
	"log/slog"

	"pq/jetstream"
)

// firstSet returns the first of values that is not empty.
func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// natsBackend connects to the NATS root, once per run; Main closes the
// connection.
func (e *env) natsBackend(ctx context.Context) (*jetstream.Backend, error) {
	if e.nats != nil {
		return e.nats, nil
	}
	log := e.warnLog
	if log == nil {
		log = slog.New(newWarnHandler(e.Err))
	}
	b, err := jetstream.Dial(ctx, e.root, jetstream.Options{CredsFile: e.natsCreds, Logger: log})
	if err != nil {
		if h := jetstream.Hint(err); h != "" {
			return nil, withHint(err, "%s", h)
		}
		return nil, err
	}
	e.nats = b
	return b, nil
}

// closeNATS closes the connection to a NATS root, if one was made.
func (e *env) closeNATS() {
	if e.nats != nil {
		e.nats.Close()
	}
}
