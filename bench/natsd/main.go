// Command natsd runs NATS servers with JetStream on loopback, for the
// benchmarks and for trying pq's nats:// roots without installing
// nats-server: one server, or a cluster of three with -n 3. It prints the
// root to give pq (nats://127.0.0.1:PORT[,...]) on stdout once every server
// is ready, and runs until SIGINT or SIGTERM.
//
//	go run ./bench/natsd -dir /tmp/natsd -n 3
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	n := flag.Int("n", 1, "servers: 1, or 3 for a cluster")
	dir := flag.String("dir", "", "store directory (required)")
	sync := flag.Bool("sync-always", false, "fsync every write, as sync_interval: always")
	flag.Parse()
	if *dir == "" || (*n != 1 && *n != 3) {
		fmt.Fprintln(os.Stderr, "usage: natsd -dir DIR [-n 1|3] [-sync-always]")
		os.Exit(2)
	}
	servers, err := start(*n, *dir, *sync)
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsd:", err)
		os.Exit(1)
	}
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.ClientURL()
	}
	fmt.Println(strings.Join(urls, ","))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	<-sigs
	for _, s := range servers {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// start starts n servers, routed to each other when n > 1, and waits for
// them to be ready.
func start(n int, dir string, syncAlways bool) ([]*server.Server, error) {
	ports := make([]int, n)
	for i := range ports {
		ports[i] = 16222 + i + os.Getpid()%1000*3
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	var out []*server.Server
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("natsd-%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   filepath.Join(dir, fmt.Sprint(i+1)),
			NoSigs:     true,
		}
		if syncAlways {
			o.SyncAlways = true
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "natsd", Host: "127.0.0.1", Port: ports[i]}
			o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		}
		s, err := server.NewServer(o)
		if err != nil {
			return nil, err
		}
		go s.Start()
		if !s.ReadyForConnections(30 * time.Second) {
			return nil, fmt.Errorf("server %d not ready", i+1)
		}
		out = append(out, s)
	}
	if n > 1 {
		deadline := time.Now().Add(30 * time.Second)
		for !out[0].JetStreamIsClustered() || out[0].JetStreamIsCurrent() == false {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("no JetStream leader after 30s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return out, nil
}
