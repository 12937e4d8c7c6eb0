package cmd

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
)

// FuzzReorder checks the flag reordering that makes `pq recv jobs --wait`
// work: for any command line, it never panics, keeps every argument, and
// keeps the positional arguments in their order, after a "--" when there
// are any, so that none is taken for a flag.
func FuzzReorder(f *testing.F) {
	f.Add("pq\x00recv\x00jobs\x00--wait")
	f.Add("pq\x00--root\x00/s\x00send\x00-H\x00a=b\x00q\x00--\x00-file")
	f.Add("pq\x00recv\x00--exec\x00cat\x00q\x00--root=/x\x00-n\x003")
	f.Add("pq\x00send\x00-\x00--lines")
	app := newApp(&env{})
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		out, err := reorder(app, args)
		if err != nil {
			return
		}
		// The same arguments, but for where "--" goes (and one at the
		// end with nothing after it, which means nothing).
		noDash := func(s []string) []string {
			return slices.DeleteFunc(slices.Clone(s), func(a string) bool { return a == "--" })
		}
		a, b := noDash(args), noDash(out)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Fatalf("reorder(%q) = %q: not the same arguments", args, out)
		}
		if i := slices.Index(out[1:], "--"); i >= 0 {
			// The positional arguments follow "--" in their order.
			pos := out[i+2:]
			j := 0
			for _, a := range args[1:] {
				if j < len(pos) && a == pos[j] {
					j++
				}
			}
			if j != len(pos) {
				t.Fatalf("reorder(%q) = %q: positional arguments out of order", args, out)
			}
		}
	})
}

// FuzzRecords checks the framing of --lines and -0: the records are the
// input split at the delimiter, empty ones left out, a last one without
// its delimiter kept, whatever the read sizes.
func FuzzRecords(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), false, 1)
	f.Add([]byte("x\x00\x00y\x00"), true, 3)
	f.Add([]byte(""), false, 7)
	f.Fuzz(func(t *testing.T, in []byte, nul bool, chunk int) {
		delim := byte('\n')
		if nul {
			delim = 0
		}
		chunk = 1 + abs(chunk)%100
		var want [][]byte
		for _, r := range bytes.Split(in, []byte{delim}) {
			if len(r) > 0 {
				want = append(want, r)
			}
		}
		rs := newRecords(bytes.NewReader(in), delim)
		var got [][]byte
		for rs.Next() {
			var rec []byte
			buf := make([]byte, chunk)
			for {
				n, err := rs.Read(buf)
				rec = append(rec, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			got = append(got, rec)
		}
		if rs.Err() != nil {
			t.Fatal(rs.Err())
		}
		if len(got) != len(want) {
			t.Fatalf("records of %q: %q, want %q", in, got, want)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("records of %q: %q, want %q", in, got, want)
			}
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
