package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// InitOptions configures a queue's streams and consumer: what `pq init`
// owns. Zero fields take the defaults of [DefaultInitOptions].
type InitOptions struct {
	// Replicas is how many servers keep each stream: 1, 3 or 5 (1 by
	// default). One replica loses what a server's disk loses.
	Replicas int
	// AckWait is how long a claim lives without an ack or an Extend: a
	// claimer that dies holds its message that long (30 s by default).
	AckWait time.Duration
	// MaxDeliver is the server's delivery limit, set above any worker's
	// --max-attempts so that workers, not the server, decide when a
	// message is dead-lettered (1000 by default). A message that reaches
	// it with nobody to dead-letter it is swept into the dead-letter
	// stream by the next receiver.
	MaxDeliver int
	// DedupWindow is how long a dedup ID stays taken (5 min by default,
	// as for a spool).
	DedupWindow time.Duration
	// MaxAckPending bounds how many claims may be held at once across
	// every receiver (1000 by default, the server's).
	MaxAckPending int
}

// DefaultInitOptions are the settings of a queue created by its first
// send, and of each field left zero in [Backend.Init].
var DefaultInitOptions = InitOptions{
	Replicas:      1,
	AckWait:       30 * time.Second,
	MaxDeliver:    1000,
	DedupWindow:   5 * time.Minute,
	MaxAckPending: 1000,
}

// withDefaults returns o with its zero fields set to the defaults.
func (o InitOptions) withDefaults() InitOptions {
	d := DefaultInitOptions
	if o.Replicas <= 0 {
		o.Replicas = d.Replicas
	}
	if o.AckWait <= 0 {
		o.AckWait = d.AckWait
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = d.MaxDeliver
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = d.DedupWindow
	}
	if o.MaxAckPending == 0 {
		o.MaxAckPending = d.MaxAckPending
	}
	return o
}

// Init creates the queue called name, or updates it to o: its stream
// (work-queue retention, file storage, o.Replicas, a duplicates window of
// o.DedupWindow), its dead-letter stream, the stream that captures its
// max-deliveries advisories, and the one durable pull consumer that every
// receiver binds to. It is idempotent. Only Init and a queue's first send
// write this configuration; receivers never do.
func (b *Backend) Init(ctx context.Context, name string, o InitOptions) error {
	if err := queue.ValidName(name); err != nil {
		return err
	}
	ctx, cancel := b.bound(ctx)
	defer cancel()
	return b.setUp(ctx, name, o.withDefaults(), b.js.CreateOrUpdateStream, b.js.CreateOrUpdateConsumer)
}

// create creates the queue called name with the default settings unless
// it exists, changing nothing of a queue that exists.
func (b *Backend) create(ctx context.Context, name string) error {
	createStream := func(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
		s, err := b.js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return b.js.Stream(ctx, cfg.Name)
		}
		return s, err
	}
	createConsumer := func(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
		c, err := b.js.CreateConsumer(ctx, stream, cfg)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			return b.js.Consumer(ctx, stream, cfg.Durable)
		}
		return c, err
	}
	return b.setUp(ctx, name, DefaultInitOptions, createStream, createConsumer)
}

type (
	streamFunc   func(context.Context, jetstream.StreamConfig) (jetstream.Stream, error)
	consumerFunc func(context.Context, string, jetstream.ConsumerConfig) (jetstream.Consumer, error)
)

// setUp makes the streams and consumers of the queue called name with
// mkStream and mkConsumer: the advisory stream first, so that no advisory
// is missed, and the queue's stream last, so that a queue whose stream
// exists has all it needs.
func (b *Backend) setUp(ctx context.Context, name string, o InitOptions, mkStream streamFunc, mkConsumer consumerFunc) error {
	if o.Replicas != 1 && o.Replicas != 3 && o.Replicas != 5 {
		return fmt.Errorf("init %s: %d replicas: want 1, 3 or 5", name, o.Replicas)
	}
	adv := jetstream.StreamConfig{
		Name:        advisoryStreamName(name),
		Description: "pq: max-deliveries advisories of queue " + name,
		Subjects:    []string{advisorySubject(name)},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
	}
	dead := jetstream.StreamConfig{
		Name:        DeadStreamName(name),
		Description: "pq: dead letters of queue " + name,
		Subjects:    []string{deadSubject(name)},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		Duplicates:  o.DedupWindow,
	}
	work := jetstream.StreamConfig{
		Name:        StreamName(name),
		Description: "pq: queue " + name,
		Subjects:    []string{Subject(name)},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		Duplicates:  o.DedupWindow,
	}
	for _, cfg := range []jetstream.StreamConfig{adv, dead} {
		if _, err := mkStream(ctx, cfg); err != nil {
			return fmt.Errorf("init %s: stream %s: %w", name, cfg.Name, err)
		}
	}
	if _, err := mkConsumer(ctx, adv.Name, jetstream.ConsumerConfig{
		Durable:   consumerName,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   30 * time.Second,
		Replicas:  o.Replicas,
	}); err != nil {
		return fmt.Errorf("init %s: consumer of %s: %w", name, adv.Name, err)
	}
	if _, err := mkStream(ctx, work); err != nil {
		return fmt.Errorf("init %s: stream %s: %w", name, work.Name, err)
	}
	if _, err := mkConsumer(ctx, work.Name, jetstream.ConsumerConfig{
		Durable:       consumerName,
		Description:   "pq: the consumer of every receiver of queue " + name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    o.MaxDeliver,
		MaxAckPending: o.MaxAckPending,
		Replicas:      o.Replicas,
	}); err != nil {
		return fmt.Errorf("init %s: consumer of %s: %w", name, work.Name, err)
	}
	return nil
}
