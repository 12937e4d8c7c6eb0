package jetstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// backendName names this backend in errors: "--priority is not supported
// on nats".
const backendName = "nats"

// Options says how to connect.
type Options struct {
	// CredsFile is a NATS credentials file (a user JWT and its NKey
	// seed), as `nsc` or `nats context` make them. Empty connects without
	// credentials. A URL never carries credentials.
	CredsFile string
	// TLS, when not nil, configures TLS (a CA, a client certificate). A
	// tls:// URL turns TLS on without it, with the system's CAs.
	TLS *tls.Config
	// Logger receives connection events (disconnects, reconnects) and
	// what a sweep did; nil discards them.
	Logger *slog.Logger
	// Name names the connection on the server, "pq" when empty.
	Name string
	// Timeout bounds the connection and each request to the server that
	// no context bounds; 10 s when zero.
	Timeout time.Duration
}

// Backend is a NATS JetStream account as a [queue.Backend]: one connection,
// shared by every queue opened on it. It is safe for concurrent use.
type Backend struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	timeout time.Duration

	mu   sync.Mutex
	seqs map[string]uint64 // the last sequence summarized, by queue
}

// Dial connects to the NATS servers at urls, a comma-separated list such
// as "nats://h1:4222,h2:4222" (tls:// for TLS), and checks that the server
// has JetStream and is version [MinServerVersion] or later. A URL with a
// user, a password or a token is refused with ErrURLCredentials: URLs
// leak into ps and shell histories, so credentials come from
// o.CredsFile.
func Dial(ctx context.Context, urls string, o Options) (*Backend, error) {
	if err := checkURLs(urls); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	nc, err := nats.Connect(urls, connectOptions(ctx, o)...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", urls, err)
	}
	b := &Backend{nc: nc, log: o.Logger, timeout: o.Timeout}
	if err := b.check(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

// connectOptions returns the nats.go options for o.
func connectOptions(ctx context.Context, o Options) []nats.Option {
	name := o.Name
	if name == "" {
		name = "pq"
	}
	timeout := o.Timeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = max(time.Until(d), time.Millisecond)
	}
	log := o.Logger
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted())
			if err := checkVersion(nc.ConnectedServerVersion()); err != nil {
				log.Error("reconnected to a NATS server that pq does not support", "url", nc.ConnectedUrlRedacted(), "err", err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("NATS error", "err", err)
		}),
	}
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.TLS != nil {
		opts = append(opts, nats.Secure(o.TLS))
	}
	return opts
}

// checkURLs refuses a URL list in which a URL carries credentials.
func checkURLs(urls string) error {
	for _, s := range strings.Split(urls, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			// Never echo what may hold a password.
			return fmt.Errorf("bad NATS URL: %w", errors.Unwrap(err))
		}
		if u.User != nil {
			return withHint(fmt.Errorf("%w: %s://%s: a URL may not hold a user, a password or a token", ErrURLCredentials, u.Scheme, u.Host),
				"give a creds file instead (--nats-creds, $PQ_NATS_CREDS or nats_creds in the config): a URL shows in ps and in shell histories")
		}
	}
	return nil
}

// check checks the server's version and that JetStream answers.
func (b *Backend) check(ctx context.Context) error {
	if err := checkVersion(b.nc.ConnectedServerVersion()); err != nil {
		return err
	}
	js, err := jetstream.New(b.nc, jetstream.WithDefaultTimeout(b.timeout))
	if err != nil {
		return err
	}
	b.js = js
	ctx, cancel := b.bound(ctx)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return withHint(fmt.Errorf("%w on %s: %w", ErrNoJetStream, b.nc.ConnectedUrlRedacted(), err),
				"start nats-server with -js (or a jetstream block in its configuration), and give the account JetStream")
		}
		return fmt.Errorf("JetStream on %s: %w", b.nc.ConnectedUrlRedacted(), err)
	}
	return nil
}

// bound returns ctx bounded by the backend's timeout if it has no
// deadline of its own.
func (b *Backend) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.timeout)
}

// ServerVersion returns the version of the server the backend is connected
// to.
func (b *Backend) ServerVersion() string { return b.nc.ConnectedServerVersion() }

// Conn returns the backend's NATS connection.
func (b *Backend) Conn() *nats.Conn { return b.nc }

// Open returns the queue called name. It checks the name, not that the
// queue exists: a send creates it with [DefaultInitOptions], a receiver of
// a queue that was never initialized gets an error matching
// queue.ErrNoQueue.
func (b *Backend) Open(_ context.Context, name string) (queue.Queue, error) {
	return b.Queue(name)
}

// Queue returns the queue called name, as [Backend.Open] does, with what
// only this backend has: [Queue.Replicas], listings, sweeps.
func (b *Backend) Queue(name string) (*Queue, error) {
	if err := queue.ValidName(name); err != nil {
		return nil, err
	}
	return &Queue{b: b, name: name, stream: StreamName(name), dead: DeadStreamName(name)}, nil
}

// Queues lists the names of the queues in the account, sorted.
func (b *Backend) Queues(ctx context.Context) ([]string, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	l := b.js.StreamNames(ctx)
	var names []string
	for s := range l.Name() {
		if n, ok := QueueOfStream(s); ok {
			names = append(names, n)
		}
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// Close drains nothing and closes the connection. Claims not settled come
// back to other consumers when their ack wait ends.
func (b *Backend) Close() error {
	b.nc.Close()
	return nil
}

var _ queue.Backend = (*Backend)(nil)
