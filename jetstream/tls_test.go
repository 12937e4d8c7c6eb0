package jetstream

import (
	"crypto/tls"
	"strings"
	"testing"

	"pq/jetstream/natstest"
	"pq/queue"
)

// A tls:// root talks TLS: with the server's certificate authority a send
// and a claim go through; without it, the connection is refused, so
// nothing went in the clear.
func TestATLSRootTalksTLS(t *testing.T) {
	s, pool := natstest.StartTLS(t)
	ctx := testCtx(t)
	if !strings.HasPrefix(s.URL(), "tls://") {
		t.Fatalf("URL %s", s.URL())
	}
	if _, err := Dial(ctx, s.URL(), Options{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Dial without the server's authority: %v, want a certificate error", err)
	}
	b, err := Dial(ctx, s.URL(), Options{TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	q, err := b.Queue("q")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Send(ctx, queue.Message{Body: strings.NewReader("secret")}); err != nil {
		t.Fatal(err)
	}
	c := claim(t, receiver(t, q))
	if body(t, c) != "secret" {
		t.Errorf("body %q", body(t, c))
	}
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
}
