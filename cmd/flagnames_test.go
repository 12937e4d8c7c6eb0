package cmd

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// Every flag of every command is wrapped with its names computed once, so
// that a start of pq runs no regular expression per flag lookup, and the
// names are the ones urfave/cli would work out itself.
func TestEveryFlagHasItsNamesComputedOnce(t *testing.T) {
	app := newApp(&env{})
	check := func(where string, flags []cli.Flag) {
		for _, f := range flags {
			switch f.(type) {
			case boolFlag, stringFlag, durationFlag, intFlag, stringSliceFlag:
			default:
				t.Errorf("%s: flag %v is a %T: add its type to namedFlag", where, f.Names(), f)
				continue
			}
			names := f.Names()
			if want := cli.FlagNames(names[0], names[1:]); !slices.Equal(names, want) {
				t.Errorf("%s: flag names %q, urfave/cli would have %q", where, names, want)
			}
		}
	}
	check("pq", app.Flags)
	for _, c := range app.Commands {
		check("pq "+c.Name, c.Flags)
	}
}

// A wrapped flag still tells reorder whether it takes a value.
func TestWrappedBoolFlagsTakeNoValue(t *testing.T) {
	table := flagTable(namedFlags([]cli.Flag{&cli.BoolFlag{Name: "all", Aliases: []string{"a"}}, &cli.StringFlag{Name: "exec"}}))
	if table["all"] || table["a"] || !table["exec"] {
		t.Errorf("flag table %v: want all and a without a value, exec with one", table)
	}
}
