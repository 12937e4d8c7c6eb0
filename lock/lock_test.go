package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTryFileExcludesOtherDescriptionsUntilClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "msg")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Open(path)
	if err := TryFile(a); err != nil {
		t.Fatalf("first lock: %v", err)
	}
	held, err := Held(path)
	if err != nil || !held {
		t.Fatalf("Held while locked = %v, %v; want true", held, err)
	}
	b, _ := os.Open(path)
	defer b.Close()
	if err := TryFile(b); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	a.Close() // what the kernel does when the holder dies
	if held, _ := Held(path); held {
		t.Fatal("Held after the holder closed = true")
	}
	if err := TryFile(b); err != nil {
		t.Fatalf("lock after the holder closed: %v", err)
	}
}

func TestHeldOnAMissingFile(t *testing.T) {
	_, err := Held(filepath.Join(t.TempDir(), "none"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Held on a missing file: %v", err)
	}
}

func TestPathLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.lock")
	a, b := NewPath(path), NewPath(path)
	if err := a.TryLock(); err != nil {
		t.Fatal(err)
	}
	if err := b.TryLock(); !errors.Is(err, ErrLocked) {
		t.Fatalf("second TryLock: %v, want ErrLocked", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Lock(ctx, 10*time.Millisecond); err == nil {
		t.Fatal("Lock succeeded while another holds the lock")
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	bounded, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	if err := b.Lock(bounded, time.Millisecond); err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	b.Unlock()
}
