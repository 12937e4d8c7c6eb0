//go:build !linux

package spool

// closeWatch is not available outside Linux: recovery relies on polling.
type closeWatch struct{ C chan struct{} }

func watchCloses(string) (*closeWatch, error) { return &closeWatch{}, nil }

func (*closeWatch) Close() error { return nil }
