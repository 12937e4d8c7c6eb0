package spool

import (
	"context"
	"errors"
	"time"

	"github.com/fsnotify/fsnotify"
)

// pollEvery is how often a waiting Receiver looks at the queue even when
// nothing told it to: the fallback for filesystems where inotify sees other
// hosts' changes late or never, such as NFS.
var pollEvery = time.Second

// recoverEvery is how often a waiting Receiver looks for dead claims.
var recoverEvery = 2 * time.Second

// waiter wakes a Receiver when something may have arrived.
type waiter struct {
	w           *fsnotify.Watcher
	closes      *closeWatch
	lastRecover time.Time
}

// Wait blocks until a message may have become ready: a sender or recovery
// touched new/, a delayed message fell due, a poll interval passed, or ctx
// is done, in which case it
// returns ctx's error. While it waits it puts back dead consumers' claims,
// at least every two seconds, and on Linux as soon as a claim's file is
// closed in cur/, which is what a consumer's death does. The first Wait returns at once, having set up
// its watch, so that nothing that arrived before the watch is missed: call
// Claim again after every Wait.
func (r *Receiver) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.w == nil {
		r.w = &waiter{lastRecover: time.Now()}
		w, err := fsnotify.NewWatcher()
		if err == nil {
			if err = w.Add(r.q.new); err != nil {
				w.Close()
			} else {
				r.w.w = w
			}
		}
		if err != nil {
			r.q.log.Warn("cannot watch the queue; polling instead", "err", err)
		}
		if r.w.closes, err = watchCloses(r.q.cur); err != nil {
			r.q.log.Warn("cannot watch for dead consumers; polling instead", "err", err)
		}
		return nil
	}
	if err := r.recoverDue(); err != nil {
		return err
	}
	var events chan fsnotify.Event
	var errs chan error
	var closes chan struct{}
	if r.w.w != nil {
		events, errs = r.w.w.Events, r.w.w.Errors
	}
	if r.w.closes != nil {
		closes = r.w.closes.C
	}
	poll := time.NewTimer(r.pollAfter())
	defer poll.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-events:
	case err := <-errs:
		// An overflow or any other watch error means events were
		// lost: the caller rescans, which is what we want.
		if !errors.Is(err, fsnotify.ErrEventOverflow) {
			r.q.log.Warn("watch error; rescanning", "err", err)
		}
	case <-poll.C:
	case <-closes:
		// A consumer closed a claim: an ack, or its death. Recovery
		// tells which, now rather than at the next poll.
		r.w.lastRecover = time.Time{}
	}
	r.drain()
	r.walking = false // rescan from the top
	return r.recoverDue()
}

// pollAfter returns how long a Wait may last before the receiver must look
// again by itself: the poll interval, the next look for dead claims, or the
// moment the earliest delayed message is due, whichever comes first.
func (r *Receiver) pollAfter() time.Duration {
	d := min(pollEvery, time.Until(r.w.lastRecover.Add(recoverEvery)))
	if r.nextDue != 0 {
		d = min(d, time.Duration(r.nextDue-now().UnixNano()))
	}
	return max(d, 0)
}

// drain discards the events that are already queued, since one rescan
// answers them all.
func (r *Receiver) drain() {
	if r.w.w == nil {
		return
	}
	for {
		select {
		case <-r.w.w.Events:
		case <-r.w.w.Errors:
		default:
			return
		}
	}
}

// recoverDue recovers dead claims when the last look is older than
// recoverEvery.
func (r *Receiver) recoverDue() error {
	if time.Since(r.w.lastRecover) < recoverEvery {
		return nil
	}
	r.w.lastRecover = time.Now()
	_, err := r.q.Recover()
	return err
}

// Close releases what the Receiver holds to wait.
func (r *Receiver) Close() error {
	if r.bell != nil {
		r.bell.Close()
		r.bell = nil
	}
	if r.w == nil {
		return nil
	}
	if r.w.closes != nil {
		r.w.closes.Close()
	}
	if r.w.w != nil {
		return closeWatcher(r.w.w)
	}
	return nil
}

// closeWatcher closes w while it drains w's channels: fsnotify's reader
// may be blocked sending an event nobody reads (the removal of a watched
// directory, say), and Close waits for it.
func closeWatcher(w *fsnotify.Watcher) error {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-w.Events:
			case <-w.Errors:
			case <-done:
				return
			}
		}
	}()
	err := w.Close()
	close(done)
	return err
}
