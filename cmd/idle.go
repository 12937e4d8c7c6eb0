package cmd

import (
	"io"
)

// idleReader reads from r through a goroutine and calls onIdle each time it
// is about to wait for input that has not arrived yet. A bulk send uses it
// to commit what it has before it blocks, so that a slow producer's
// messages are not held back waiting for a batch to fill.
type idleReader struct {
	chunks chan []byte
	errs   chan error
	cur    []byte
	err    error
	onIdle func()
}

func newIdleReader(r io.Reader, onIdle func()) *idleReader {
	ir := &idleReader{chunks: make(chan []byte, 4), errs: make(chan error, 1), onIdle: onIdle}
	go func() {
		for {
			buf := make([]byte, 64<<10)
			n, err := r.Read(buf)
			if n > 0 {
				ir.chunks <- buf[:n]
			}
			if err != nil {
				ir.errs <- err
				close(ir.chunks)
				return
			}
		}
	}()
	return ir
}

func (ir *idleReader) Read(p []byte) (int, error) {
	for len(ir.cur) == 0 {
		if ir.err != nil {
			return 0, ir.err
		}
		var ok bool
		select {
		case ir.cur, ok = <-ir.chunks:
		default:
			ir.onIdle()
			ir.cur, ok = <-ir.chunks
		}
		if !ok {
			ir.err = <-ir.errs
		}
	}
	n := copy(p, ir.cur)
	ir.cur = ir.cur[n:]
	return n, nil
}
