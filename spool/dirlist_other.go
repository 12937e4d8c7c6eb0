//go:build !linux

package spool

import (
	"os"
)

// read lists dir with the portable calls: not a snapshot.
func (l *lister) read(dir string) ([]entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	ents := make([]entry, 0, len(des))
	for _, d := range des {
		ents = append(ents, entry{name: d.Name(), typ: d.Type()})
	}
	return ents, nil
}
