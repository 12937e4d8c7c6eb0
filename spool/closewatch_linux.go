package spool

import (
	"os"

	"golang.org/x/sys/unix"
)

// closeWatch signals when a file that was open for writing in a directory is
// closed. Claims hold their files open for writing, so in cur/ such a close
// is often a consumer ending: an ack, or its death, which recovery must
// notice at once. Linux only; elsewhere recovery relies on polling.
type closeWatch struct {
	f *os.File
	C chan struct{}
}

// watchCloses starts watching dir.
func watchCloses(dir string) (*closeWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A non-blocking descriptor goes through the runtime's poller, so Close
	// wakes the goroutine blocked in Read.
	w := &closeWatch{f: os.NewFile(uintptr(fd), "inotify:"+dir), C: make(chan struct{}, 1)}
	go w.run()
	return w, nil
}

func (w *closeWatch) run() {
	buf := make([]byte, 64*unix.SizeofInotifyEvent)
	for {
		if _, err := w.f.Read(buf); err != nil {
			return
		}
		select {
		case w.C <- struct{}{}:
		default:
		}
	}
}

// Close stops the watch.
func (w *closeWatch) Close() error { return w.f.Close() }
