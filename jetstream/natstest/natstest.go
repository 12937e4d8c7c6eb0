// Package natstest starts embedded NATS servers with JetStream for tests:
// one server, or a cluster of three routed on loopback. Each listens on
// 127.0.0.1 on ports the system picks, keeps its store in a directory of
// t.TempDir(), and is shut down by t.Cleanup. A server can be shut down and
// restarted on its store directory and its ports, so that a test can see
// what a restart keeps.
//
// Only tests import this package: it links the whole NATS server.
package natstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyWithin bounds every wait of this package: for a server to accept
// connections, and for a cluster to elect a JetStream leader.
var readyWithin = 30 * time.Second

// Server is one embedded NATS server with JetStream.
type Server struct {
	t    testing.TB
	mu   sync.Mutex
	opts server.Options
	srv  *server.Server
}

// Start starts a single server with JetStream and waits until it accepts
// connections. It is shut down when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, opts: baseOptions(t, "pq-1")}
	s.start()
	t.Cleanup(s.Shutdown)
	return s
}

// baseOptions returns the options of a server called name: loopback,
// random ports, JetStream with a store in a new temporary directory.
func baseOptions(t testing.TB, name string) server.Options {
	return server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
		// No HTTP monitoring, no leaf nodes, no gateways.
		HTTPPort: 0,
	}
}

// start starts the server on s.opts and waits until it accepts
// connections, then remembers the ports it got, so that a restart gets
// the same ones.
func (s *Server) start() {
	s.t.Helper()
	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.t.Fatalf("natstest: new server %s: %v", s.opts.ServerName, err)
	}
	srv.Start()
	if !srv.ReadyForConnections(readyWithin) {
		srv.Shutdown()
		s.t.Fatalf("natstest: server %s not ready after %s", s.opts.ServerName, readyWithin)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv = srv
	s.opts.Port = srv.Addr().(*net.TCPAddr).Port
	if s.opts.Cluster.Port != 0 {
		s.opts.Cluster.Port = srv.ClusterAddr().Port
	}
}

// URL returns the server's client URL, nats://127.0.0.1:PORT (tls:// for
// a server of StartTLS). It stays the same across a restart.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.TLS {
		return fmt.Sprintf("tls://127.0.0.1:%d", s.opts.Port)
	}
	return fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port)
}

// StoreDir returns the server's JetStream store directory.
func (s *Server) StoreDir() string { return s.opts.StoreDir }

// Name returns the server's name.
func (s *Server) Name() string { return s.opts.ServerName }

// Running reports whether the server runs.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv != nil
}

// NATS returns the running server, for what this package does not wrap;
// nil when it is shut down.
func (s *Server) NATS() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// Shutdown stops the server and waits until it has stopped. It does
// nothing to a server that is not running.
func (s *Server) Shutdown() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Shutdown()
	srv.WaitForShutdown()
}

// Restart shuts the server down, if it runs, and starts it again on the
// same store directory and ports.
func (s *Server) Restart() {
	s.t.Helper()
	s.Shutdown()
	s.start()
}

// Cluster is n servers routed to each other on loopback, with JetStream
// clustered.
type Cluster struct {
	t       testing.TB
	Servers []*Server
}

// StartCluster starts n servers (n is 3 in pq's tests) routed on loopback
// as one JetStream cluster, and waits until it has a JetStream meta leader
// that sees every server. They are shut down when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	var routes []string
	for i := range n {
		s := &Server{t: t, opts: baseOptions(t, fmt.Sprintf("pq-%d", i+1))}
		s.opts.Cluster = server.ClusterOpts{Name: "pq", Host: "127.0.0.1", Port: -1}
		s.opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		s.start()
		t.Cleanup(s.Shutdown)
		c.Servers = append(c.Servers, s)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Cluster.Port))
	}
	c.WaitReady(n)
	return c
}

// URLs returns the client URLs of every server, comma-separated, as pq's
// --root takes them.
func (c *Cluster) URLs() string {
	var urls []string
	for _, s := range c.Servers {
		urls = append(urls, s.URL())
	}
	return strings.Join(urls, ",")
}

// Restart restarts server i on its store directory and ports, routed to
// every other server, and waits until the cluster has a meta leader that
// sees every running server.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	s := c.Servers[i]
	s.Shutdown()
	s.opts.Routes = c.routesFrom(i)
	s.start()
	c.WaitReady(c.running())
}

// routesFrom returns the routes of server i to the others, at their
// cluster ports.
func (c *Cluster) routesFrom(i int) []*url.URL {
	var routes []string
	for j, o := range c.Servers {
		if j != i {
			routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", o.opts.Cluster.Port))
		}
	}
	return server.RoutesFromStr(strings.Join(routes, ","))
}

// RestartAll shuts every server down, starts them all again on their
// store directories and ports, and waits until the cluster has a meta
// leader that sees them all: what the cluster keeps then, it kept on
// disk.
func (c *Cluster) RestartAll() {
	c.t.Helper()
	for _, s := range c.Servers {
		s.Shutdown()
	}
	for i, s := range c.Servers {
		s.opts.Routes = c.routesFrom(i)
		s.start()
	}
	c.WaitReady(len(c.Servers))
}

// running counts the servers that run.
func (c *Cluster) running() int {
	n := 0
	for _, s := range c.Servers {
		if s.Running() {
			n++
		}
	}
	return n
}

// WaitReady waits until a running server is the JetStream meta leader and
// sees at least n servers with JetStream, failing the test after a bound.
// The server offers no notification of this, so it is polled.
func (c *Cluster) WaitReady(n int) {
	c.t.Helper()
	deadline := time.Now().Add(readyWithin)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if c.Leader() != nil && len(c.Leader().NATS().JetStreamClusterPeers()) >= n {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("natstest: no JetStream meta leader seeing %d servers after %s", n, readyWithin)
		}
		<-tick.C
	}
}

// Leader returns the server that is the JetStream meta leader, or nil.
func (c *Cluster) Leader() *Server {
	for _, s := range c.Servers {
		if srv := s.NATS(); srv != nil && srv.JetStreamIsLeader() {
			return s
		}
	}
	return nil
}

// StartTLS starts a single server that takes TLS connections only, with a
// certificate for 127.0.0.1 made for the test, and returns it with a pool
// of certificate authorities that trusts that certificate. Its URL is
// tls://127.0.0.1:PORT.
func StartTLS(t testing.TB) (*Server, *x509.CertPool) {
	t.Helper()
	cert, pool := selfSigned(t)
	s := &Server{t: t, opts: baseOptions(t, "pq-tls")}
	s.opts.TLS = true
	s.opts.TLSTimeout = 5
	s.opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.start()
	t.Cleanup(s.Shutdown)
	return s, pool
}

// selfSigned makes a certificate for 127.0.0.1, valid for a day, and a
// pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "natstest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
