package jetstream

import (
	"bytes"
	"context"
	"fmt"

	"pq/queue"
)

// Redrive sends dead letters back into the queue, as new messages with
// their bodies and headers, and removes them from the dead-letter stream:
// those whose IDs are given, or all of them when none is. It returns the
// new messages' IDs, in the order of the dead letters. An ID that is not a
// dead letter of the queue is an error matching ErrNoMessage, and then
// nothing is sent. Each send carries a dedup ID made of the dead letter's
// sequence, so that a redrive that dies between the send and the removal
// sends the message once when run again within the dedup window.
func (q *Queue) Redrive(ctx context.Context, ids ...queue.ID) ([]queue.ID, error) {
	var picked []DeadLetter
	want := map[queue.ID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for d, err := range q.Dead(ctx) {
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 || want[d.ID] {
			picked = append(picked, d)
			delete(want, d.ID)
		}
	}
	for id := range want {
		return nil, fmt.Errorf("retry %s in %s: %w", id, q.name, ErrNoMessage)
	}
	bctx, cancel := q.b.bound(ctx)
	defer cancel()
	dead, err := q.b.js.Stream(bctx, q.dead)
	if err != nil {
		return nil, fmt.Errorf("retry in %s: %w", q.name, err)
	}
	var sent []queue.ID
	for _, d := range picked {
		id, err := q.Send(ctx, queue.Message{Body: bytes.NewReader(d.Body), Headers: d.Headers, DedupID: redriveID(d)})
		if err != nil {
			return sent, fmt.Errorf("retry %s in %s: %w", d.ID, q.name, err)
		}
		sent = append(sent, id)
		if err := dead.DeleteMsg(bctx, d.Seq); err != nil {
			return sent, fmt.Errorf("retry %s in %s: sent as %s, but not removed from the dead letters: %w", d.ID, q.name, id, err)
		}
	}
	return sent, nil
}

// redriveID is the dedup ID of the send of dead letter d back into its
// queue.
func redriveID(d DeadLetter) string {
	return fmt.Sprintf("pq-redrive-%d-%d", d.Seq, d.Stored.UnixNano())
}
