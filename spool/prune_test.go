package spool

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// deadLetterAt dead-letters a message sent with body at the time t.
func deadLetterAt(t *testing.T, q *Queue, body string, at time.Time) ID {
	t.Helper()
	setClock(t, at)
	id, err := q.SendWith(strings.NewReader(body), SendOptions{Headers: []Header{{Key: "Kind", Value: body}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeadLetter(Reason{Cause: "test"}); err != nil {
		t.Fatal(err)
	}
	return id
}

// Dead letters beyond dlq_max_count, or older than dlq_max_age, are
// removed oldest first, with their reasons and headers; without either
// setting none is.
func TestPruneKeepsTheNewestDeadLetters(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	t0 := time.Now().Add(-10 * time.Hour)
	var ids []ID
	for i := range 5 {
		ids = append(ids, deadLetterAt(t, q, "m"+string(rune('0'+i)), t0.Add(time.Duration(i)*time.Hour)))
	}
	setClock(t, t0.Add(10*time.Hour))
	if got, err := q.PruneDeadLetters(); err != nil || len(got) != 0 {
		t.Fatalf("prune without settings: %v, %v; want nothing removed", got, err)
	}
	q.Set(map[string]string{"dlq_max_count": "3"})
	if got, err := q.PruneDeadLetters(); err != nil || !slices.Equal(got, ids[:2]) {
		t.Fatalf("prune to 3: removed %v, %v; want the two oldest %v", got, err, ids[:2])
	}
	q.Set(map[string]string{"dlq_max_age": "6h30m"}) // the one of t0+3h is 7h old
	if got, err := q.PruneDeadLetters(); err != nil || !slices.Equal(got, ids[2:4]) {
		t.Fatalf("prune by age: removed %v, %v; want %v", got, err, ids[2:4])
	}
	dead, _ := q.DeadLetters()
	if len(dead) != 1 || dead[0].Name.ID != ids[4] || dead[0].Headers[0].Value != "m4" {
		t.Fatalf("dead letters left: %+v", dead)
	}
	ents, _ := os.ReadDir(q.dlq)
	if len(ents) != 2 {
		t.Errorf("dlq/ holds %d entries, want the dead letter and its reason", len(ents))
	}
	if ents, _ := os.ReadDir(filepath.Join(q.dir, dirMeta)); len(ents) != 1 {
		t.Errorf(".meta/ holds %d entries, want the last dead letter's", len(ents))
	}
}
