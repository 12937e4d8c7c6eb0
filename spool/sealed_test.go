package spool

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"pq/seal"
)

// newKeys returns identities of a fresh key and its recipient.
func newKeys(t testing.TB) (*seal.Identities, seal.Recipient) {
	t.Helper()
	k, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := seal.ParseIdentities(strings.NewReader(k.String() + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := seal.ParseRecipient(k.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	return ids, r
}

// sealedQueue returns an encrypted queue to rcpt, opened with ids.
func sealedQueue(t testing.TB, ids *seal.Identities, rcpt seal.Recipient) *Queue {
	t.Helper()
	q := newQueue(t, Options{NoSync: true, Identities: ids})
	if err := q.EncryptTo([]seal.Recipient{rcpt}); err != nil {
		t.Fatal(err)
	}
	return q
}

// readyFiles returns the paths of the ready messages' files.
func readyFiles(t *testing.T, q *Queue) []string {
	t.Helper()
	var paths []string
	for e, err := range q.Messages(StateReady) {
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Join(q.dir, e.Path))
	}
	return paths
}

func TestEncryptedQueueStoresAgeFilesAndDeliversPlaintext(t *testing.T) {
	ids, rcpt := newKeys(t)
	q := sealedQueue(t, ids, rcpt)
	if v, err := q.readFormat(); err != nil || v != sealFormat {
		t.Fatalf("format %d, %v; want %d", v, err, sealFormat)
	}
	body := "the secret order"
	hs := []Header{{Key: "Customer", Value: "42"}}
	if _, err := q.SendWith(strings.NewReader(body), SendOptions{Headers: hs}); err != nil {
		t.Fatal(err)
	}
	files := readyFiles(t, q)
	if len(files) != 1 {
		t.Fatalf("%d files ready, want 1", len(files))
	}
	raw, _ := os.ReadFile(files[0])
	if bytes.Contains(raw, []byte("secret")) || !seal.Sealed(raw) {
		t.Fatalf("message file is not ciphertext: %q", raw)
	}
	if got, err := seal.Open(raw, ids); err != nil || string(got) != body {
		t.Fatalf("the file as an age file: %q, %v", got, err)
	}
	metas, _ := filepath.Glob(filepath.Join(q.dir, dirMeta, "*"))
	if len(metas) != 1 {
		t.Fatalf("metadata files %v", metas)
	}
	if m, _ := os.ReadFile(metas[0]); !seal.Sealed(m) || bytes.Contains(m, []byte("Customer")) {
		t.Fatalf("metadata file is not ciphertext: %q", m)
	}
	// Without the key, the headers are not shown, and the count holds.
	plain, _ := Open(filepath.Dir(q.dir), q.name, Options{})
	if st, err := plain.Stat(); err != nil || st.Ready != 1 {
		t.Fatalf("stat without a key: %+v, %v", st, err)
	}
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(c.Body())
	gotHs, err := c.Headers()
	if string(got) != body || c.Size() != int64(len(body)) || err != nil || len(gotHs) != 1 || gotHs[0] != hs[0] {
		t.Fatalf("claimed %q (size %d), headers %v, %v", got, c.Size(), gotHs, err)
	}
	if err := q.Ack(c); err != nil {
		t.Fatal(err)
	}
}

func TestEncryptedQueueRefusesAReceiverWithoutItsKeyBeforeClaiming(t *testing.T) {
	ids, rcpt := newKeys(t)
	other, _ := newKeys(t)
	q := sealedQueue(t, ids, rcpt)
	if _, err := q.Send(strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ids  *seal.Identities
		want error
	}{{"none", nil, seal.ErrNoIdentity}, {"another key", other, seal.ErrWrongIdentity}} {
		t.Run(tc.name, func(t *testing.T) {
			rq, _ := Open(filepath.Dir(q.dir), q.name, Options{Identities: tc.ids})
			if _, err := rq.NewReceiver().Claim(); !errors.Is(err, tc.want) {
				t.Fatalf("claim: %v, want %v", err, tc.want)
			}
			if err := rq.CheckIdentity(); !errors.Is(err, tc.want) {
				t.Fatalf("CheckIdentity: %v, want %v", err, tc.want)
			}
			if n := len(readyFiles(t, q)); n != 1 {
				t.Fatalf("%d messages ready, want 1 untouched", n)
			}
		})
	}
	if f := readyFiles(t, q); len(f) != 1 || strings.Contains(filepath.Base(f[0]), ",a=") {
		t.Fatalf("message was counted an attempt: %v", f)
	}
}

func TestMessageThatCannotBeDecryptedIsDeadLetteredAndTheQueueGoesOn(t *testing.T) {
	ids, rcpt := newKeys(t)
	q := sealedQueue(t, ids, rcpt)
	for _, b := range []string{"first", "second"} {
		if _, err := q.Send(strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	first := readyFiles(t, q)[0]
	raw, _ := os.ReadFile(first)
	raw[len(raw)-3] ^= 1
	if err := os.WriteFile(first, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := receiveBody(t, q.NewReceiver()); got != "second" {
		t.Fatalf("received %q, want the second message", got)
	}
	dead, err := q.DeadLetters()
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters %v, %v", dead, err)
	}
	if dead[0].Reason.Cause != CauseCannotDecrypt || dead[0].Name.Attempts != 0 {
		t.Fatalf("dead letter %+v, want cause %q and no attempt", dead[0], CauseCannotDecrypt)
	}
	if _, err := q.Redrive(); err != nil {
		t.Fatalf("redrive: %v", err)
	}
	if n := len(readyFiles(t, q)); n != 1 {
		t.Fatalf("%d ready after redrive, want 1", n)
	}
}

func TestMessageToAnOldKeyIsDeadLettered(t *testing.T) {
	oldIDs, oldR := newKeys(t)
	ids, rcpt := newKeys(t)
	q := sealedQueue(t, oldIDs, oldR)
	if _, err := q.Send(strings.NewReader("old")); err != nil {
		t.Fatal(err)
	}
	if err := q.EncryptTo([]seal.Recipient{rcpt}); err != nil {
		t.Fatal(err)
	}
	nq, _ := Open(filepath.Dir(q.dir), q.name, Options{Identities: ids})
	if _, err := nq.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim: %v, want ErrEmpty", err)
	}
	if dead, _ := nq.DeadLetters(); len(dead) != 1 || dead[0].Reason.Cause != CauseCannotDecrypt {
		t.Fatalf("dead letters %+v", dead)
	}
}

// repeat reads the byte c forever.
type repeat byte

func (r repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestLargeEncryptedBodyStreams(t *testing.T) {
	const size, bound = 64 << 20, 16 << 20
	ids, rcpt := newKeys(t)
	q := sealedQueue(t, ids, rcpt)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	peak := watchHeap(t)
	if _, err := q.Send(io.LimitReader(repeat('z'), size)); err != nil {
		t.Fatal(err)
	}
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, c.Body())
	if err != nil || n != size || c.Size() != size {
		t.Fatalf("read %d of %d bytes (size %d), %v", n, size, c.Size(), err)
	}
	if got := peak() - before.HeapInuse; got > bound {
		t.Fatalf("sending and receiving %d bytes took %d bytes of heap at the peak, more than %d", size, got, bound)
	}
	q.Ack(c)
}

// watchHeap samples the heap in use until the function it returns is
// called, which returns the largest sample.
func watchHeap(t *testing.T) func() uint64 {
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}

func TestMessageFileOpensWithTheAgeCommand(t *testing.T) {
	bin, err := exec.LookPath("age")
	if err != nil {
		t.Skip("age is not installed: the message file is checked as an age file by package seal only")
	}
	k, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(keyFile, []byte(k.String()+"\n"), 0o600)
	ids, _ := seal.ParseIdentities(strings.NewReader(k.String()))
	rcpt, _ := seal.ParseRecipient(k.Recipient().String())
	q := sealedQueue(t, ids, rcpt)
	if _, err := q.Send(strings.NewReader("for age")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-d", "-i", keyFile, readyFiles(t, q)[0]).Output()
	if err != nil || string(out) != "for age" {
		t.Fatalf("age -d: %q, %v", out, err)
	}
}

func TestReceiverNoticesAQueueEncryptedSinceItStarted(t *testing.T) {
	ids, rcpt := newKeys(t)
	q := newQueue(t, Options{NoSync: true, Identities: ids})
	if _, err := q.Send(strings.NewReader("plain")); err != nil {
		t.Fatal(err)
	}
	r := q.NewReceiver()
	if got := receiveBody(t, r); got != "plain" {
		t.Fatalf("got %q", got)
	}
	if _, err := r.Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim: %v", err)
	}
	if err := q.EncryptTo([]seal.Recipient{rcpt}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Send(strings.NewReader("sealed")); err != nil {
		t.Fatal(err)
	}
	if got := receiveBody(t, r); got != "sealed" {
		t.Fatalf("a receiver from before the queue was encrypted got %q", got)
	}
}

// On an encrypted queue a reply is encrypted as it is written, so that it
// rests in .replies/ as an age file, and the requester reads its
// plaintext with the queue's identity; without one it cannot.
func TestRepliesOnAnEncryptedQueueAreEncrypted(t *testing.T) {
	ids, rcpt := newKeys(t)
	q := sealedQueue(t, ids, rcpt)
	r := request(t, q, "question")
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	w, err := q.NewReply(c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if w.File() != nil {
		t.Fatal("File() on an encrypted queue: want nil, so that nobody writes plaintext to it")
	}
	io.WriteString(w, "a secret answer")
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(q.dir, dirReplies, string(c.ID()), replyBody))
	if err != nil || !seal.Sealed(b) || bytes.Contains(b, []byte("secret")) {
		t.Fatalf("the reply at rest: %q, %v; want an age file", b, err)
	}
	q.Ack(c)
	got, err := waitReply(t, r)
	if err != nil || got != "a secret answer" {
		t.Fatalf("Wait = %q, %v", got, err)
	}

	// Without the identity, the reply does not open.
	blind, _ := Open(filepath.Dir(q.dir), q.name, Options{NoSync: true})
	r2 := request(t, blind, "again")
	c2, _ := q.NewReceiver().Claim()
	q.Reply(c2.ID(), strings.NewReader("answer"))
	q.Ack(c2)
	if _, err := waitReply(t, r2); !errors.Is(err, seal.ErrNoIdentity) {
		t.Fatalf("Wait without an identity: %v, want seal.ErrNoIdentity", err)
	}
}
