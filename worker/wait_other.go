//go:build !linux

package worker

import "errors"

// waitExit is not available here: the caller reaps the process instead.
func waitExit(int) error { return errors.ErrUnsupported }
