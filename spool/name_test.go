package spool

import (
	"strings"
	"testing"
	"time"
)

func TestNameRoundTrip(t *testing.T) {
	id, _ := newID()
	const def = DefaultPriority
	tests := []Name{
		{ID: id, Priority: def},
		{ID: id, Attempts: 3, Priority: def},
		{ID: id, Attempts: 1, Priority: def, Extra: []string{"q=5", "k=orders"}},
		{ID: id, Attempts: 1, Priority: def, Group: "orders-42", Meta: true},
		{ID: id, Attempts: 2, Due: 1795611122152629542, Priority: def},
		{ID: id, Priority: 9, Meta: true},
		{ID: id, Priority: 0, Expires: 1795611122152629542},
		{ID: "job-1", Priority: def},
		{ID: "job-1", Attempts: 2, Priority: 7},
		{ID: id, Priority: def, Meta: true, Request: true},
	}
	for _, n := range tests {
		t.Run(n.String(), func(t *testing.T) {
			got := ParseName(n.String())
			if got.String() != n.String() || got.ID != n.ID || got.Attempts != n.Attempts || got.Due != n.Due || got.Priority != n.Priority || got.Request != n.Request {
				t.Fatalf("ParseName(%q) = %+v, want %+v", n.String(), got, n)
			}
		})
	}
}

func TestANameWithoutPriorityHasTheDefault(t *testing.T) {
	for s, want := range map[string]int{"x": DefaultPriority, "x,a=1": DefaultPriority, "x,p=4": DefaultPriority, "x,p=0": 0, "x,a=2,p=9": 9} {
		if got := ParseName(s).Priority; got != want {
			t.Errorf("ParseName(%q).Priority = %d, want %d", s, got, want)
		}
	}
	if got := (Name{ID: "x", Priority: DefaultPriority}).String(); got != "x" {
		t.Errorf("the default priority is written %q, want it left out", got)
	}
}

func TestParseNameTakesAnyNameWhole(t *testing.T) {
	for _, s := range []string{"plain", "a,b", "x,a=0", "x,a=01", "x,a=1,a=2", "x,A=1", "x,a=1,", "x,,a=1", "x,d=-5", "x,d=0", "x,d=1,d=2",
		"x,p=10", "x,p=-1", "x,p=", "x,p=1,p=2", "x,p=a", "x,r=2", "x,r=1,r=1"} {
		if got := ParseName(s); got.ID != ID(s) || got.Attempts != 0 || got.Priority != DefaultPriority {
			t.Errorf("ParseName(%q) = %+v, want the whole name as ID", s, got)
		}
	}
}

func TestIDsSortInSendOrderAndCarryTheirTime(t *testing.T) {
	frozen := time.Now().Add(time.Hour)
	ids.Lock()
	saved, savedLast := ids.now, ids.last
	ids.now = func() time.Time { return frozen } // a clock that stands still
	ids.Unlock()
	t.Cleanup(func() { ids.Lock(); ids.now, ids.last = saved, savedLast; ids.Unlock() })

	prev, _ := newID()
	for range 1000 {
		id, _ := newID()
		if id <= prev {
			t.Fatalf("ID %s does not sort after %s", id, prev)
		}
		prev = id
	}
	tm, ok := IDTime(prev)
	if !ok || tm.Sub(frozen) < 0 || tm.Sub(frozen) > time.Microsecond {
		t.Fatalf("Time() = %v %v, want about %v", tm, ok, frozen)
	}
	if _, ok := IDTime(ID("job-1")); ok {
		t.Fatal("a foreign ID has no time")
	}
}

func TestBucketsSortWithTime(t *testing.T) {
	a := bucket(1764074682_120000000)
	b := bucket(1764074682_130000000)
	c := bucket(1764074683_000000000)
	if a != "1764074/682/12" || !(a < b && b < c) {
		t.Fatalf("buckets %s %s %s", a, b, c)
	}
	for i, part := range strings.Split(a, "/") {
		if !isBucket(part, i) {
			t.Fatalf("isBucket(%q, %d) = false", part, i)
		}
	}
}

// FuzzName checks that formatting and parsing agree: whatever a name
// parses to formats back to a name that parses to the same thing, and a
// name pq formats parses back exactly.
func FuzzName(f *testing.F) {
	f.Add("1764074682123456789.42_9f3a0c1e.host,a=2", 0)
	f.Add("job-1", 3)
	f.Add("x,p=1,a=3,g=z", 1)
	f.Add("x,a=3,d=1795611122152629542", 1)
	f.Add("x,a=1,d=1795611122152629542,x=1795611122152629543,m=1", 1)
	f.Add("x,m=1,r=1", 1)
	f.Fuzz(func(t *testing.T, s string, attempts int) {
		n := ParseName(s)
		again := ParseName(n.String())
		if again.String() != n.String() || again.ID != n.ID || again.Attempts != n.Attempts || again.Due != n.Due ||
			again.Expires != n.Expires || again.Meta != n.Meta || again.Request != n.Request {
			t.Fatalf("ParseName(%q) = %+v, but its String %q parses to %+v", s, n, n.String(), again)
		}
		if attempts < 0 || strings.Contains(s, ",") {
			return
		}
		m := Name{ID: ID(s), Attempts: attempts}
		if got := ParseName(m.String()); got.ID != m.ID || got.Attempts != m.Attempts {
			t.Fatalf("ParseName(%q) = %+v, want %+v", m.String(), got, m)
		}
	})
}

func TestBucketEndIsTheEndOfItsSpan(t *testing.T) {
	tests := []struct {
		rel  string
		want int64
	}{
		{"1764074", 1764075000e9},
		{"1764074/682", 1764074683e9},
		{"1764074/682/12", 1764074682_130000000},
	}
	for _, tt := range tests {
		got, ok := bucketEnd(tt.rel)
		if !ok || got != tt.want {
			t.Errorf("bucketEnd(%q) = %d, %v; want %d", tt.rel, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"", "x", "1764074/68", "1764074/682/12/1"} {
		if _, ok := bucketEnd(bad); ok {
			t.Errorf("bucketEnd(%q) accepted it", bad)
		}
	}
}
