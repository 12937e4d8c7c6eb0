package spool

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// deadClaim sends body and claims it, then closes the claim's file as a
// consumer's death would: the message stays in cur/, unlocked.
func deadClaim(t *testing.T, q *Queue, body string) ID {
	t.Helper()
	id, err := q.Send(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := q.ClaimIDs(id)
	if err != nil || cs[id] == nil {
		t.Fatalf("claim %s: %v", id, err)
	}
	cs[id].File().Close()
	return id
}

// idsByState lists the queue's message IDs by state.
func idsByState(t *testing.T, q *Queue) map[State][]ID {
	t.Helper()
	out := map[State][]ID{}
	for e, err := range q.Messages() {
		if err != nil {
			t.Fatal(err)
		}
		out[e.State] = append(out[e.State], e.Name.ID)
	}
	return out
}

func TestRemoveDeletesEveryStateButHeldClaims(t *testing.T) {
	q, _ := seeingQueue(t)
	dead := deadClaim(t, q, "dead claim")
	before := idsByState(t, q)
	if len(before[StateInflight]) != 2 {
		t.Fatalf("in flight: %v, want the held claim and the dead one", before[StateInflight])
	}
	var held ID
	for _, id := range before[StateInflight] {
		if id != dead {
			held = id
		}
	}
	var all []ID
	for _, s := range States {
		all = append(all, before[s]...)
	}
	r, err := q.Remove(append(all, "1764074682123456789.1_00000000.nosuch")...)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(all) - 1; r.Removed != want {
		t.Errorf("removed %d, want %d", r.Removed, want)
	}
	if !slices.Equal(r.Held, []ID{held}) {
		t.Errorf("held %v, want %v", r.Held, []ID{held})
	}
	if !slices.Equal(r.Missing, []ID{"1764074682123456789.1_00000000.nosuch"}) {
		t.Errorf("missing %v", r.Missing)
	}
	after := idsByState(t, q)
	if len(after) != 1 || !slices.Equal(after[StateInflight], []ID{held}) {
		t.Errorf("left %v, want only the held claim %s", after, held)
	}
	// Nothing of the deleted messages is left: no metadata, no reason.
	for _, dir := range []string{filepath.Join(q.dir, dirMeta), q.dlq} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			t.Errorf("%s/%s is left", filepath.Base(dir), e.Name())
		}
	}
}

func TestRemoveLeavesAMessageBeingClaimed(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	id, err := q.Send(strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	var r Removal
	// A receiver that has locked the file in new/ and not yet renamed
	// it: the delete must keep off it.
	hooks = func(point, path string) {
		if point == "claim-checked" {
			r, err = q.Remove(id)
		}
	}
	t.Cleanup(func() { hooks = nil })
	c, cerr := q.NewReceiver().Claim()
	hooks = nil
	if cerr != nil || err != nil {
		t.Fatalf("claim: %v; remove: %v", cerr, err)
	}
	if r.Removed != 0 || !slices.Equal(r.Held, []ID{id}) {
		t.Errorf("remove during the claim: %+v, want it held", r)
	}
	if err := q.Ack(c); err != nil {
		t.Errorf("ack of the claim that the delete kept off: %v", err)
	}
}

func TestPurgeEmptiesTheStatesAskedAndReportsProgress(t *testing.T) {
	q, _ := seeingQueue(t)
	deadClaim(t, q, "dead claim")
	r, err := q.Purge(PurgeOptions{States: []State{StateDead}})
	if err != nil || r.Removed != 1 || len(r.Held) != 0 {
		t.Fatalf("purge of the dead letters: %+v, %v", r, err)
	}
	if left := idsByState(t, q); len(left[StateDead]) != 0 || len(left[StateReady]) != 4 {
		t.Fatalf("after purging the dead letters: %v", left)
	}
	var calls, last int
	r, err = q.Purge(PurgeOptions{Progress: func(removed, held int) { calls++; last = removed + held }})
	if err != nil {
		t.Fatal(err)
	}
	// 4 ready, 1 delayed, 1 dead claim; the held claim stays.
	if r.Removed != 6 || len(r.Held) != 1 {
		t.Errorf("purge: %+v, want 6 removed and 1 held", r)
	}
	if calls != 7 || last != 7 {
		t.Errorf("progress called %d times, last with %d; want 7 and 7", calls, last)
	}
	left := idsByState(t, q)
	if len(left) != 1 || len(left[StateInflight]) != 1 {
		t.Errorf("left %v, want the held claim alone", left)
	}
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Errorf("claim after the purge: %v, want ErrEmpty", err)
	}
}

func TestRemovedHeadOfAGroupDoesNotHoldItBack(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	var ids []ID
	for _, b := range []string{"a", "b"} {
		id, err := q.SendWith(strings.NewReader(b), SendOptions{Group: "g"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Retry(0); err != nil { // "a" goes next in its group
		t.Fatal(err)
	}
	if r, err := q.Remove(ids[0]); err != nil || r.Removed != 1 {
		t.Fatalf("remove: %+v, %v", r, err)
	}
	c, err = q.NewReceiver().Claim()
	if err != nil {
		t.Fatalf("claim after the group's head was deleted: %v", err)
	}
	if c.ID() != ids[1] {
		t.Errorf("claimed %s, want %s", c.ID(), ids[1])
	}
	q.Ack(c)
}

func TestRemoveSyncsTheDirectoriesAfterTheUnlinks(t *testing.T) {
	q := newQueue(t, Options{})
	id, err := q.Send(strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	traceFS = func(op, path string) { steps = append(steps, op) }
	t.Cleanup(func() { traceFS = nil })
	if _, err := q.Remove(id); err != nil {
		t.Fatal(err)
	}
	traceFS = nil
	if len(steps) < 2 || steps[0] != "unlink" || !slices.Contains(steps[1:], "fsync-dir") {
		t.Errorf("steps %v, want an unlink, then fsyncs of directories", steps)
	}
}

func TestRemoveAndPurgeKeepTheCountsOfALimitedQueue(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	if err := q.Set(map[string]string{"max_messages": "10"}); err != nil {
		t.Fatal(err)
	}
	var ids []ID
	for _, b := range []string{"a", "bb", "ccc"} {
		id, err := q.Send(strings.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := q.Remove(ids[1]); err != nil {
		t.Fatal(err)
	}
	if c, ok := q.Counts(); !ok || c != (Counts{Messages: 2, Bytes: 4}) {
		t.Errorf("counts after removing bb: %+v (kept %v), want 2 messages of 4 bytes", c, ok)
	}
	if _, err := q.Purge(PurgeOptions{}); err != nil {
		t.Fatal(err)
	}
	if c, _ := q.Counts(); c != (Counts{}) {
		t.Errorf("counts after the purge: %+v, want none", c)
	}
}
