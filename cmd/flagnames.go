package cmd

import "github.com/urfave/cli/v2"

// urfave/cli v2 works out a flag's names with a regular expression each
// time it asks for them (FlagNames), and finds a flag by asking every flag
// of the command for its names (Context.lookupFlag), which it does for
// every flag at every start (runFlagActions) and at every c.IsSet. A
// command of 40 flags thus ran some 2,000 regular expressions before its
// action: a tenth of a short pq's time. The types below are the library's
// own flags with their names worked out once; every other method, and so
// the help, completion and parsing, is the library's.

// boolFlag is a cli.BoolFlag with its names computed once.
type boolFlag struct {
	*cli.BoolFlag
	names []string
}

// Names returns the names computed when the flag was wrapped.
func (f boolFlag) Names() []string { return f.names }

// stringFlag is a cli.StringFlag with its names computed once.
type stringFlag struct {
	*cli.StringFlag
	names []string
}

// Names returns the names computed when the flag was wrapped.
func (f stringFlag) Names() []string { return f.names }

// durationFlag is a cli.DurationFlag with its names computed once.
type durationFlag struct {
	*cli.DurationFlag
	names []string
}

// Names returns the names computed when the flag was wrapped.
func (f durationFlag) Names() []string { return f.names }

// intFlag is a cli.IntFlag with its names computed once.
type intFlag struct {
	*cli.IntFlag
	names []string
}

// Names returns the names computed when the flag was wrapped.
func (f intFlag) Names() []string { return f.names }

// stringSliceFlag is a cli.StringSliceFlag with its names computed once.
type stringSliceFlag struct {
	*cli.StringSliceFlag
	names []string
}

// Names returns the names computed when the flag was wrapped.
func (f stringSliceFlag) Names() []string { return f.names }

// namedFlags returns flags with each flag of a type above wrapped so that
// its names are computed once; flags of other types are returned as they
// are.
func namedFlags(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		out[i] = namedFlag(f)
	}
	return out
}

// namedFlag wraps one flag (see namedFlags).
func namedFlag(f cli.Flag) cli.Flag {
	switch f := f.(type) {
	case *cli.BoolFlag:
		// A switch off unless given shows no "(default: false)".
		f.DisableDefaultText = f.DisableDefaultText || !f.Value
		return boolFlag{f, names(f.Name, f.Aliases)}
	case *cli.StringFlag:
		return stringFlag{f, names(f.Name, f.Aliases)}
	case *cli.DurationFlag:
		return durationFlag{f, names(f.Name, f.Aliases)}
	case *cli.IntFlag:
		return intFlag{f, names(f.Name, f.Aliases)}
	case *cli.StringSliceFlag:
		return stringSliceFlag{f, names(f.Name, f.Aliases)}
	}
	return f
}

// names lists a flag's name and its aliases, as cli.FlagNames does for
// names without commas or spaces, which pq's flags never have.
func names(name string, aliases []string) []string {
	return append([]string{name}, aliases...)
}

// isBoolFlag reports whether f is a boolean flag, which takes no value.
func isBoolFlag(f cli.Flag) bool {
	switch f.(type) {
	case *cli.BoolFlag, boolFlag:
		return true
	}
	return false
}
