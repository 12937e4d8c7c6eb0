package cmd

import (
	"bufio"
	"errors"
	"io"
)

// records splits a stream into records that end at delim, streaming each
// record so that a long one never sits in memory whole. The delimiter is
// not part of a record; a last record without one still counts; empty
// records are skipped.
type records struct {
	r     *bufio.Reader
	delim byte
	left  bool // the current record has bytes left to read
	err   error
}

func newRecords(r io.Reader, delim byte) *records {
	return &records{r: bufio.NewReaderSize(r, 64<<10), delim: delim}
}

// Next moves to the next non-empty record and reports whether there is one.
// The previous record must have been read to its end.
func (rs *records) Next() bool {
	for {
		b, err := rs.r.ReadByte()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rs.err = err
			}
			return false
		}
		if b != rs.delim {
			rs.r.UnreadByte()
			rs.left = true
			return true
		}
	}
}

// Err returns the read error that ended the records, if any.
func (rs *records) Err() error { return rs.err }

// Read reads from the current record; it returns io.EOF at its end.
func (rs *records) Read(p []byte) (int, error) {
	if !rs.left {
		return 0, io.EOF
	}
	buf, err := rs.r.Peek(1)
	if len(buf) == 0 {
		rs.left = false
		if err != nil && !errors.Is(err, io.EOF) {
			rs.err = err
			return 0, err
		}
		return 0, io.EOF
	}
	// Copy what is buffered up to the delimiter.
	n := min(len(p), rs.r.Buffered())
	chunk, _ := rs.r.Peek(n)
	for i, c := range chunk {
		if c == rs.delim {
			copy(p, chunk[:i])
			rs.r.Discard(i + 1)
			rs.left = false
			if i == 0 {
				return 0, io.EOF
			}
			return i, nil
		}
	}
	copy(p, chunk)
	rs.r.Discard(n)
	return n, nil
}
