package cmd

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// version is pq's version when the build sets it, as in
// go build -ldflags "-X pq/cmd.version=1.2.0"; when empty, pq reports the
// main module's version from the build information, which Go stamps from
// the module (go install pq@v1.2.0) or from the clone's tag and revision.
var version string

func init() {
	// urfave/cli's own version flag claims -v, which pq keeps free (for
	// verbose). pq never sets App.Version, so the library never adds this
	// flag; pq --version is a global flag of pq's own (see versionFlagged).
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version and build information", DisableDefaultText: true}
}

func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print the version and build information",
		UsageText: "pq version",
		Description: "Prints pq's version on the first line, then the build information as\n" +
			"KEY VALUE lines: the module and its version, the Go version, the platform,\n" +
			"the build tags, and, for a build from a clone, the revision, its time and\n" +
			"whether the clone had changes. pq --version is the same.\n\n" +
			"Example:\n  pq version | awk '$1 == \"revision\" { print $2 }'",
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return withHint(usagef("version: takes no arguments"), "usage: %s", c.Command.UsageText)
			}
			return writeVersion(e.Out)
		},
	}
}

// versionFlagged reports whether args (args[0] the program name) give the
// global flag --version before the command, if any.
func versionFlagged(args []string) bool {
	if !slices.Contains(args, "--version") && !slices.Contains(args, "-version") {
		return false
	}
	global := flagTable(namedFlags(globalFlags()))
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--version" || a == "-version" {
			return true
		}
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			return false
		}
		takesValue, ok := lookupFlag(global, a)
		if !ok {
			return false
		}
		if takesValue && !strings.Contains(a, "=") {
			i++
		}
	}
	return false
}

// writeVersion prints the version and the build information.
func writeVersion(w io.Writer) error {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = &debug.BuildInfo{GoVersion: runtime.Version(), Main: debug.Module{Path: "pq"}}
	}
	_, err := io.WriteString(w, formatVersion(version, info))
	if err != nil {
		return fmt.Errorf("write version: %w", err)
	}
	return nil
}

// formatVersion renders the output of pq version: "pq VERSION", then one
// "KEY VALUE" line for each piece of build information present.
func formatVersion(stamped string, info *debug.BuildInfo) string {
	v := stamped
	if v == "" {
		v = info.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pq %s\n", v)
	line := func(key, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%-9s %s\n", key, value)
		}
	}
	line("module", strings.TrimSpace(info.Main.Path+" "+info.Main.Version))
	line("go", info.GoVersion)
	if settings["GOOS"] != "" {
		line("platform", settings["GOOS"]+"/"+settings["GOARCH"])
	} else {
		line("platform", runtime.GOOS+"/"+runtime.GOARCH)
	}
	line("tags", settings["-tags"])
	line("vcs", settings["vcs"])
	line("revision", settings["vcs.revision"])
	line("time", settings["vcs.time"])
	line("modified", settings["vcs.modified"])
	return b.String()
}
