//go:build deps

package main

import (
	_ "filippo.io/age"
	_ "github.com/BurntSushi/toml"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/gofrs/flock"
	_ "github.com/nats-io/nats.go"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/urfave/cli/v2"
)
