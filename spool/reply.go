package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"pq/seal"
)

// dirReplies holds the reply places of the requests whose requesters wait:
// .replies/ID for the request ID (see [Queue.Request]).
const dirReplies = ".replies"

// The files of a reply place.
const (
	replyBody = "reply" // the reply's body, renamed in whole
	replyDead = "dead"  // the reason the request was dead-lettered
)

// staleReplyAge is how old a leftover entry of .replies/ whose name begins
// with a dot (a place being made, or being removed) must be before
// CleanReplies removes it.
var staleReplyAge = time.Hour

// Request is a request sent with [Queue.Request], whose reply its
// requester waits for. It holds a lock on its reply place, .replies/ID,
// for as long as it waits: the lock proves that the requester is alive, as
// a claim's lock does. A Request is for one goroutine; end it with Wait or
// Withdraw.
type Request struct {
	q    *Queue
	name Name
	dir  string   // the reply place
	lock *os.File // the reply place's directory, locked
	done bool
}

// replyPlace is a request's reply place, from its making to its commit.
type replyPlace struct {
	path string
	name Name // the request's name, once committed
}

// Request sends a request: a message whose body is read from body to its
// end, with options o, whose reply the caller waits for with
// [Request.Wait]. Before the commit it makes a reply place,
// .replies/.new-X, and locks it; at the commit, under the commit lock, once
// the request has its ID and before it is renamed into new/, the place is
// renamed to .replies/ID: a request is never visible without its reply
// place. The request's name says r=1. The request is sent without fsyncs:
// it matters only while its requester waits, and a crash of the machine
// ends that wait; a request that outlives its requester is dropped, never
// delivered.
func (q *Queue) Request(body io.Reader, o SendOptions) (*Request, error) {
	fast, err := Open(filepath.Dir(q.dir), q.name, Options{NoSync: true, Logger: q.opts.Logger, Settings: q.opts.Settings})
	if err != nil {
		return nil, err
	}
	b := fast.NewBatch()
	b.one = true
	defer b.Close()
	if err := b.AddWith(body, o); err != nil {
		return nil, err
	}
	rp, lock, err := q.newReplyPlace()
	if err != nil {
		return nil, fmt.Errorf("request to %s: %w", q.name, err)
	}
	b.pending[0].reply = rp
	_, err = b.Commit()
	r := &Request{q: q, name: rp.name, dir: rp.path, lock: lock}
	if err != nil {
		r.finish()
		return nil, err
	}
	return r, nil
}

// newReplyPlace makes and locks a fresh reply place under a dot name.
func (q *Queue) newReplyPlace() (*replyPlace, *os.File, error) {
	dir := filepath.Join(q.dir, dirReplies)
	if err := mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, nil, err
	}
	path := filepath.Join(dir, fmt.Sprintf(".new-%016x", rand.Uint64()))
	if err := mkdir(path, 0o700); err != nil {
		return nil, nil, err
	}
	f, err := openFD(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err == nil {
		if err = flockNB(f, unix.LOCK_EX); err != nil {
			f.Close()
		}
	}
	if err != nil {
		remove(path)
		return nil, nil, err
	}
	return &replyPlace{path: path}, f, nil
}

// placeReplies renames the reply places of the batch's requests to their
// IDs, before any of them is renamed into new/. The renames need no sync:
// a reply place matters only while its requester lives, which a crash of
// the machine ends.
func (b *Batch) placeReplies(names []Name) error {
	for i := range b.pending {
		rp := b.pending[i].reply
		if rp == nil {
			continue
		}
		to := filepath.Join(b.q.dir, dirReplies, string(names[i].ID))
		if err := rename(rp.path, to); err != nil {
			return fmt.Errorf("reply place of %s: %w", names[i].ID, err)
		}
		rp.path, rp.name = to, names[i]
	}
	return nil
}

// ID returns the request's ID.
func (r *Request) ID() ID { return r.name.ID }

// Wait blocks until the request's reply arrives and returns a reader of
// its body, which the caller closes; the reply place is removed by then.
// If the request was dead-lettered instead, Wait returns an error matching
// ErrDeadLettered, a *DeadLetterError with the reason. Wait is woken by
// inotify, and looks every second as well (the fallback of
// [Receiver.Wait]). When ctx is done it returns ctx's error, and the
// request still waits: call Withdraw.
func (r *Request) Wait(ctx context.Context) (io.ReadCloser, error) {
	if r.done {
		return nil, fmt.Errorf("request %s: %w", r.name.ID, ErrNoRequester)
	}
	var events chan fsnotify.Event
	var errs chan error
	if w, err := fsnotify.NewWatcher(); err != nil {
		r.q.log.Warn("cannot watch for the reply; polling instead", "err", err)
	} else {
		defer closeWatcher(w)
		if err := w.Add(r.dir); err != nil {
			r.q.log.Warn("cannot watch for the reply; polling instead", "err", err)
		}
		events, errs = w.Events, w.Errors
	}
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	for look := true; ; {
		if look {
			if rc, err := r.take(); rc != nil || err != nil {
				return rc, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case ev := <-events:
			// A reply being written is no news; its rename is.
			look = !strings.HasPrefix(filepath.Base(ev.Name), ".")
		case <-errs: // events were lost: look again
			look = true
		case <-poll.C:
			look = true
		}
	}
}

// take returns the reply, or the dead letter's reason as an error, once
// either is in the reply place, and nil, nil before.
func (r *Request) take() (io.ReadCloser, error) {
	f, err := openFD(filepath.Join(r.dir, replyBody), unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err == nil {
		// Open, the reply stays readable after its place is gone.
		if err := r.finish(); err != nil {
			r.q.log.Warn("cannot remove a reply place", "id", r.name.ID, "err", err)
		}
		return r.q.openReply(f)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reply to %s: %w", r.name.ID, err)
	}
	dead := filepath.Join(r.dir, replyDead)
	if _, err := os.Lstat(dead); err == nil {
		reason, err := readReason(dead)
		r.finish()
		if err != nil {
			return nil, fmt.Errorf("reply to %s: %w", r.name.ID, err)
		}
		return nil, &DeadLetterError{ID: r.name.ID, Reason: reason}
	}
	if _, err := os.Lstat(r.dir); err != nil {
		r.finish()
		return nil, fmt.Errorf("reply place of %s: %w", r.name.ID, err)
	}
	return nil, nil
}

// Withdraw gives up waiting: it removes the reply place, so that a reply
// that comes later is discarded ([ErrNoRequester]) and a receiver that
// claims the request later drops it without delivering it, and removes the
// request at once if it is still waiting in the queue where it was sent.
// It is safe to call at any time and more than once.
func (r *Request) Withdraw() error {
	if r.done {
		return nil
	}
	err := r.finish()
	r.q.dropWaiting(r.name)
	return err
}

// finish removes the reply place and releases its lock.
func (r *Request) finish() error {
	if r.done {
		return nil
	}
	r.done = true
	defer r.lock.Close()
	return removePlace(r.dir)
}

// removePlace removes a reply place: first renamed to a dot name, so that
// no reply goes into it any more, then removed with what it holds.
func removePlace(dir string) error {
	gone := filepath.Join(filepath.Dir(dir), fmt.Sprintf(".gone-%016x", rand.Uint64()))
	if err := rename(dir, gone); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove reply place: %w", err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("remove reply place: %w", err)
	}
	return nil
}

// dropWaiting removes the withdrawn request called n if it still waits
// where it was placed, in new/ or in .due/; a request that moved (claimed,
// put back) is dropped by the receiver that claims it.
func (q *Queue) dropWaiting(n Name) {
	sent, ok := idNanos(string(n.ID))
	if !ok {
		return
	}
	path := filepath.Join(q.tree(n.Priority), bucket(sent), n.String())
	if n.Due > now().UnixNano() {
		path = filepath.Join(q.due, bucket(n.Due), n.String())
	}
	if c, err := q.claimFile(path); err == nil {
		if err := q.Ack(c); err != nil {
			q.log.Warn("cannot remove a withdrawn request", "id", n.ID, "err", err)
		}
	}
}

// Request reports whether the claimed message is a request, whose sender
// waits for a reply (see [Queue.Reply]).
func (c *Claim) Request() bool { return c.name.Request }

// dropOrphan acks the claim c, without delivering it, when it is a request
// whose requester no longer waits, and reports whether it did.
func (q *Queue) dropOrphan(c *Claim) bool {
	if !c.name.Request {
		return false
	}
	if rq, id := c.ReplyTo(); rq.requesterAlive(id) {
		return false
	}
	if err := q.Ack(c); err != nil {
		q.log.Warn("cannot drop a request nobody waits for", "id", c.name.ID, "err", err)
		return true
	}
	q.log.Warn("dropped a request nobody waits for any more", "id", c.name.ID)
	return true
}

// requesterAlive reports whether someone waits for the reply to id: its
// reply place exists and is locked. When in doubt, it says yes.
func (q *Queue) requesterAlive(id ID) bool {
	if !replyID(id) {
		return false
	}
	f, err := openFD(filepath.Join(q.dir, dirReplies, string(id)), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	defer f.Close()
	return flockNB(f, unix.LOCK_SH) != nil
}

// replyID reports whether id may name a reply place: an ID made by pq,
// which holds no '/' and does not begin with a dot.
func replyID(id ID) bool {
	return isPQID(string(id)) && !strings.Contains(string(id), ",")
}

// flockNB takes the lock how (LOCK_EX or LOCK_SH) on f without waiting.
func flockNB(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// tellRequester tells the requester of the dead-lettered request id, if
// it still waits, why: the reason goes to .replies/ID/dead, durably, as
// dlq/ID.reason does. A failure is logged: the dead letter stands, and
// the requester waits until its own timeout.
func (q *Queue) tellRequester(id ID, r Reason) {
	if !q.requesterAlive(id) {
		return
	}
	dir := filepath.Join(q.dir, dirReplies, string(id))
	err := q.writeReasonTo(id, r, ".dead", filepath.Join(dir, replyDead))
	if err == nil {
		err = q.sync(dir)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		q.log.Warn("cannot tell a requester that its request was dead-lettered", "id", id, "err", err)
	}
}

// CleanReplies removes the reply places that nobody waits on any more:
// every .replies/ID whose lock it can take (its requester has died), with
// a reply that came too late, and the leftovers under dot names older than
// an hour (a requester or a cleaner that died midway). It returns the
// names it removed. pq recover and waiting workers call it.
func (q *Queue) CleanReplies() ([]string, error) {
	dir := filepath.Join(q.dir, dirReplies)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clean %s/%s: %w", q.name, dirReplies, err)
	}
	cutoff := now().Add(-staleReplyAge)
	var removed []string
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			fi, err := os.Lstat(path)
			if err != nil || !fi.ModTime().Before(cutoff) {
				continue
			}
		}
		if q.cleanPlace(path) {
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}

// cleanPlace removes the reply place at path unless it is locked, and
// reports whether it did.
func (q *Queue) cleanPlace(path string) bool {
	f, err := openFD(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		// Not a place we can lock, such as a stray file: only old dot
		// names come here that way, and go.
		return errors.Is(err, unix.ELOOP) && remove(path) == nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.IsDir() {
		return remove(path) == nil
	}
	if flockNB(f, unix.LOCK_EX) != nil {
		return false
	}
	if err := removePlace(path); err != nil {
		q.log.Warn("cannot remove a reply place", "path", path, "err", err)
		return false
	}
	return true
}

// openReply returns a reader of the reply in f: f itself, or, on an
// encrypted queue (whose replies are encrypted to its recipients), the
// plaintext, opened with Options.Identities.
func (q *Queue) openReply(f *os.File) (io.ReadCloser, error) {
	rs, err := q.Recipients()
	if err == nil && len(rs) == 0 {
		return f, nil
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	plain, _, err := seal.DecryptFile(f, fi.Size(), q.opts.Identities)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reply from %s: %w", q.name, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{plain, f}, nil
}
