package jetstream

import (
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// Removal is what [Queue.Remove] and [Queue.Purge] did.
type Removal = queue.Removal

// Remove deletes the messages of the given IDs: ready ones from the
// queue's stream, dead letters from its dead-letter stream. A message in
// flight is left alone and listed in Removal.Held; an ID found nowhere is
// listed in Removal.Missing.
func (q *Queue) Remove(ctx context.Context, ids ...queue.ID) (Removal, error) {
	var r Removal
	s, dead, delivered, err := q.streams(ctx)
	if err != nil {
		return r, err
	}
	deadSeq := map[queue.ID]uint64{}
	for d, err := range q.Dead(ctx) {
		if err != nil {
			return r, err
		}
		deadSeq[d.ID] = d.Seq
	}
	for _, id := range ids {
		seq, err := ParseID(id)
		if err != nil {
			r.Missing = append(r.Missing, id)
			continue
		}
		switch ds, isDead := deadSeq[id]; {
		case isDead:
			err = q.deleteMsg(ctx, dead, ds, &r)
		case !q.has(ctx, s, seq):
			r.Missing = append(r.Missing, id)
		case seq <= delivered:
			r.Held = append(r.Held, id)
		default:
			err = q.deleteMsg(ctx, s, seq, &r)
		}
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// Purge deletes the queue's messages in the states given, all when none
// is: the ready ones one by one, the dead letters at once. Messages in
// flight are left alone and listed in Removal.Held. StateDelayed, which
// a NATS queue does not have, is refused with an error matching
// queue.ErrUnsupported. progress, when not nil, is called after each
// message deleted or left alone.
func (q *Queue) Purge(ctx context.Context, states []State, progress func(removed, held int)) (Removal, error) {
	var r Removal
	if slices.Contains(states, queue.StateDelayed) {
		return r, queue.Unsupported("--state delayed", backendName)
	}
	if progress == nil {
		progress = func(int, int) {}
	}
	wants := func(st State) bool {
		if len(states) == 0 {
			return true
		}
		for _, s := range states {
			if s == st {
				return true
			}
		}
		return false
	}
	s, dead, _, err := q.streams(ctx)
	if err != nil {
		return r, err
	}
	if wants(StateReady) || wants(StateInflight) {
		for m, err := range q.Messages(ctx) {
			if err != nil {
				return r, err
			}
			switch {
			case m.State == StateInflight && wants(StateInflight):
				r.Held = append(r.Held, m.ID)
			case m.State == StateReady && wants(StateReady):
				if err := q.deleteMsg(ctx, s, m.Seq, &r); err != nil && q.has(ctx, s, m.Seq) {
					return r, err // not a message taken meanwhile
				}
			default:
				continue
			}
			progress(r.Removed, len(r.Held))
		}
	}
	if wants(StateDead) {
		bctx, cancel := q.b.bound(ctx)
		defer cancel()
		n := dead.CachedInfo().State.Msgs
		if err := dead.Purge(bctx); err != nil {
			return r, fmt.Errorf("purge the dead letters of %s: %w", q.name, err)
		}
		r.Removed += int(n)
		progress(r.Removed, len(r.Held))
	}
	return r, nil
}

var _ queue.Purger = (*Queue)(nil)

// streams returns the queue's stream and dead-letter stream, and the last
// stream sequence its consumer delivered.
func (q *Queue) streams(ctx context.Context) (s, dead jetstream.Stream, delivered uint64, err error) {
	c, err := q.consumer(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	bctx, cancel := q.b.bound(ctx)
	defer cancel()
	if s, err = q.b.js.Stream(bctx, q.stream); err == nil {
		dead, err = q.b.js.Stream(bctx, q.dead)
	}
	if err != nil {
		return nil, nil, 0, fmt.Errorf("queue %s: %w", q.name, err)
	}
	return s, dead, c.CachedInfo().Delivered.Stream, nil
}

// has reports whether stream s holds a message at seq.
func (q *Queue) has(ctx context.Context, s jetstream.Stream, seq uint64) bool {
	bctx, cancel := q.b.bound(ctx)
	defer cancel()
	_, err := s.GetMsg(bctx, seq)
	return err == nil
}

// deleteMsg deletes the message at seq of stream s, counting it in r.
func (q *Queue) deleteMsg(ctx context.Context, s jetstream.Stream, seq uint64, r *Removal) error {
	bctx, cancel := q.b.bound(ctx)
	defer cancel()
	if err := s.DeleteMsg(bctx, seq); err != nil {
		return fmt.Errorf("delete %s of %s: %w", ID(seq), q.name, err)
	}
	r.Removed++
	return nil
}
