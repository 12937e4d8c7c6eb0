package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestAListingIsASnapshot renames files into a directory one after the
// other while another goroutine lists it over and over: a listing must
// never hold a later file without every earlier one, which is what keeps a
// receiver from taking a sender's second message before its first.
func TestAListingIsASnapshot(t *testing.T) {
	const files = 3000
	src, dst := t.TempDir(), t.TempDir()
	for i := range files {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("%05d", i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var done atomic.Bool
	go func() {
		defer done.Store(true)
		for i := range files {
			name := fmt.Sprintf("%05d", i)
			if err := os.Rename(filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var ls lister
	for listings := 0; !done.Load() || listings == 0; listings++ {
		ents, err := ls.list(dst, "")
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range ents {
			if want := fmt.Sprintf("%05d", i); e.name != want {
				t.Fatalf("listing %d holds %s without %s: not a snapshot", listings, e.name, want)
			}
		}
	}
}
