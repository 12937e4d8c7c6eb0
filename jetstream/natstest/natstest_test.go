package natstest

import (
	"testing"
)

func TestStartRestart(t *testing.T) {
	s := Start(t)
	url := s.URL()
	if !s.NATS().JetStreamEnabled() {
		t.Fatal("JetStream is not enabled")
	}
	s.Restart()
	if s.URL() != url {
		t.Errorf("URL after restart = %s, want %s", s.URL(), url)
	}
	s.Shutdown()
	if s.Running() {
		t.Error("still running after Shutdown")
	}
}

func TestCluster(t *testing.T) {
	c := StartCluster(t, 3)
	if c.Leader() == nil {
		t.Fatal("no leader")
	}
	c.Servers[0].Shutdown()
	c.WaitReady(2)
	c.Restart(0)
	if got := len(c.Leader().NATS().JetStreamClusterPeers()); got != 3 {
		t.Errorf("peers after restart = %d, want 3", got)
	}
	// RestartAll is tried by the jetstream package's cluster test.
}
