package cmd

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"strings"
	"testing"
)

// TestManPageMentionsEverything checks pq(1)'s structure, and that it
// documents every command and every flag of each, its global flags and
// every exit status.
func TestManPageMentionsEverything(t *testing.T) {
	cmds := commands(&env{})
	page := manPage(cmds, "test")
	if !strings.HasPrefix(page, ".TH PQ 1 ") {
		t.Errorf("the page does not start with .TH: %q", page[:min(40, len(page))])
	}
	for _, s := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "GLOBAL OPTIONS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"} {
		if !strings.Contains(page, "\n.SH "+quoteArg(s)+"\n") {
			t.Errorf("no section %s", s)
		}
	}
	for _, c := range cmds {
		if !strings.Contains(page, "\n.SS "+quoteArg("pq "+c.Name)+"\n") {
			t.Errorf("pq %s has no subsection", c.Name)
		}
		for _, f := range c.Flags {
			for _, n := range f.Names() {
				if !strings.Contains(page, `\fB`+escape(flagName(n))+`\fR`) {
					t.Errorf("pq %s: flag %s missing", c.Name, flagName(n))
				}
			}
		}
		for _, ex := range examples(c.Description) {
			if !strings.Contains(page, escape(ex)) {
				t.Errorf("pq %s: example %q missing", c.Name, ex)
			}
		}
	}
	for _, f := range globalFlags() {
		if !strings.Contains(page, `\fB`+escape(flagName(f.Names()[0]))+`\fR`) {
			t.Errorf("global flag %s missing", f.Names()[0])
		}
	}
	if !strings.Contains(page, `(default: 30s, or the config's grace)`) {
		t.Errorf("the page does not give --grace's default")
	}
}

// TestManPageRenders has groff format pq(1) with every warning on: it must
// say nothing.
func TestManPageRenders(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("groff is not installed: pq(1) is checked for its structure only (TestManPageMentionsEverything)")
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(manPage(commands(&env{}), "test"))
	var errs bytes.Buffer
	cmd.Stderr = &errs
	if err := cmd.Run(); err != nil || errs.Len() > 0 {
		t.Errorf("groff: %v\n%s", err, errs.String())
	}
}

// TestManPageHasEveryExitStatus reads the Exit constants of exit.go: each
// is described on the man page.
func TestManPageHasEveryExitStatus(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "exit.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	described := map[string]bool{}
	for _, s := range exitStatuses {
		described[s.name] = true
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		spec, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for _, id := range spec.Names {
			if strings.HasPrefix(id.Name, "Exit") {
				n++
				if !described[id.Name] {
					t.Errorf("%s is not in exitStatuses (man.go)", id.Name)
				}
			}
		}
		return true
	})
	if n == 0 {
		t.Error("found no Exit constant in exit.go")
	}
}
