//go:build !linux

package cmd

import "io"

// isTerminal reports whether w is a terminal; off Linux pq does not ask,
// and prints as to a pipe.
func isTerminal(w io.Writer) bool { return false }
