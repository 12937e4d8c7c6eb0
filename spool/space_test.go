package spool

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSpace(t *testing.T) {
	for in, want := range map[string]Space{
		"0": {}, "4096": {Bytes: 4096}, "100MiB": {Bytes: 100 << 20}, "1G": {Bytes: 1 << 30},
		"500MB": {Bytes: 500e6}, "1.5k": {Bytes: 1536}, "2%": {Percent: 2}, "0.5 %": {Percent: 0.5}, " 3 gib ": {Bytes: 3 << 30},
	} {
		if got, err := ParseSpace(in); err != nil || got != want {
			t.Errorf("ParseSpace(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "101%", "1 parsec", "NaN", "1e30GiB"} {
		if _, err := ParseSpace(bad); err == nil {
			t.Errorf("ParseSpace(%q) accepted it", bad)
		}
	}
}

// fakeDisk makes the queue's file system report total and free bytes.
func fakeDisk(t *testing.T, total, free *int64) {
	t.Helper()
	saved := statfs
	statfs = func(path string, st *unix.Statfs_t) error {
		*st = unix.Statfs_t{Bsize: 1, Blocks: uint64(*total), Bavail: uint64(*free)}
		return nil
	}
	t.Cleanup(func() { statfs = saved })
}

// A send that would leave less than min_free on the disk is refused with
// ErrFull, and leaves nothing behind; by default min_free is 1% of the
// disk, at most 100 MiB.
func TestSendsAreRefusedBelowMinFree(t *testing.T) {
	total, free := int64(1<<40), int64(200<<20)
	fakeDisk(t, &total, &free)
	q := newQueue(t, Options{NoSync: true})
	if _, err := q.Send(strings.NewReader("fits")); err != nil {
		t.Fatalf("send with 200 MiB free of 1 TiB: %v", err)
	}
	free = 99 << 20 // under the 100 MiB cap of 1% of 1 TiB
	if _, err := q.Send(strings.NewReader("no room")); !errors.Is(err, ErrFull) {
		t.Fatalf("send with 99 MiB free: %v, want ErrFull", err)
	}
	total, free = 1<<30, 11<<20 // 1% of 1 GiB is about 10 MiB
	if _, err := q.Send(strings.NewReader("fits")); err != nil {
		t.Fatalf("send with 11 MiB free of 1 GiB: %v", err)
	}
	q.Set(map[string]string{"min_free": "20MiB"})
	if _, err := q.Send(strings.NewReader("no room")); !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "min_free") {
		t.Fatalf("send with 11 MiB free, min_free 20MiB: %v, want ErrFull naming min_free", err)
	}
	q.Set(map[string]string{"min_free": "0"})
	if _, err := q.Send(strings.NewReader("fits")); err != nil {
		t.Fatalf("send with min_free 0: %v", err)
	}
	ents, _ := os.ReadDir(q.tmp)
	if len(ents) != 0 {
		t.Errorf("tmp/ holds %d files after refused sends", len(ents))
	}
}

// A batch looks at the free space again as it writes, and a message whose
// body took the disk under min_free is refused, its file removed; what was
// added before it can still be committed.
func TestABatchStopsWhereTheDiskFillsUp(t *testing.T) {
	total, free := int64(1<<30), int64(1<<30)
	fakeDisk(t, &total, &free)
	q := newQueue(t, Options{NoSync: true})
	b := q.NewBatch()
	defer b.Close()
	big := strings.Repeat("x", roomEvery)
	added := 0
	var err error
	for range 10 {
		if err = b.Add(strings.NewReader(big)); err != nil {
			break
		}
		added++
		free = max(0, free-400<<20)
	}
	if !errors.Is(err, ErrFull) || added != 3 {
		t.Fatalf("after %d messages: %v; want ErrFull after 3", added, err)
	}
	ids, err := b.Commit()
	if err != nil || len(ids) != 3 {
		t.Fatalf("commit of what fitted: %d ids, %v", len(ids), err)
	}
	if ents, _ := os.ReadDir(q.tmp); len(ents) != 0 {
		t.Errorf("tmp/ holds %d files", len(ents))
	}
}

// Room looks again at once, and at the settings too, for a sender that
// waits for room.
func TestRoomLooksAfresh(t *testing.T) {
	total, free := int64(1<<30), int64(1<<20)
	fakeDisk(t, &total, &free)
	q := newQueue(t, Options{NoSync: true})
	b := q.NewBatch()
	defer b.Close()
	if err := b.Room(); !errors.Is(err, ErrFull) {
		t.Fatalf("Room with 1 MiB free: %v, want ErrFull", err)
	}
	free = 1 << 29
	if err := b.Room(); err != nil {
		t.Fatalf("Room once space was freed: %v", err)
	}
	free = 1 << 20
	q.Set(map[string]string{"min_free": "512KiB"})
	if err := b.Room(); err != nil {
		t.Fatalf("Room once min_free was lowered: %v", err)
	}
}
