package jetstream

import (
	"errors"
	"strings"
	"testing"

	"pq/jetstream/natstest"
)

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		v  string
		ok bool
	}{
		{"2.12.5", true}, {"2.12.6", true}, {"2.13.0", true}, {"3.0.0", true}, {"2.15.2", true},
		{"v2.12.5", true}, {"2.12.5+build", true}, {"2.13.0-RC.1", true},
		{"2.12.4", false}, {"2.12.3", false}, {"2.11.9", false}, {"1.99.99", false},
		{"2.12.5-beta.1", false}, {"2.12", false}, {"", false}, {"2.x.5", false}, {"2.12.5.1", false},
	} {
		if got := versionAtLeast(c.v, MinServerVersion); got != c.ok {
			t.Errorf("versionAtLeast(%q) = %v, want %v", c.v, got, c.ok)
		}
	}
	err := checkVersion("2.12.4")
	if !errors.Is(err, ErrOldServer) || !strings.Contains(Hint(err), "upgrade") {
		t.Errorf("checkVersion(2.12.4) = %v (hint %q); want ErrOldServer with a hint", err, Hint(err))
	}
}

func TestURLCredentials(t *testing.T) {
	for _, u := range []string{"nats://user:secret@127.0.0.1:4222", "nats://127.0.0.1:1,tls://secret@h:4222", "user:secret@h:4222"} {
		_, err := Dial(testCtx(t), u, Options{})
		if !errors.Is(err, ErrURLCredentials) || strings.Contains(err.Error(), "secret") || Hint(err) == "" {
			t.Errorf("Dial(%q) = %v; want ErrURLCredentials, without the secret, with a hint", u, err)
		}
	}
}

func TestDialNoJetStream(t *testing.T) {
	s := natstest.Start(t)
	b := dial(t, s.URL())
	if v := b.ServerVersion(); !versionAtLeast(v, MinServerVersion) {
		t.Errorf("embedded server version %s", v)
	}
}

func TestRestartKeepsMessages(t *testing.T) {
	s := natstest.Start(t)
	b := dial(t, s.URL())
	if err := b.Init(testCtx(t), "q", InitOptions{}); err != nil {
		t.Fatal(err)
	}
	q, _ := b.Queue("q")
	id := send(t, q, "kept")
	b.Close()
	s.Restart()
	b = dial(t, s.URL())
	q, _ = b.Queue("q")
	c := claim(t, receiver(t, q))
	if c.ID() != id || body(t, c) != "kept" {
		t.Errorf("after a restart: %s %q, want %s kept", c.ID(), body(t, c), id)
	}
}
