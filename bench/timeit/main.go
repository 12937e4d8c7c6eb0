// Command timeit times whole processes: it runs each of several commands
// many times, the commands taking turns, and prints the median wall time of
// each, so that a benchmark script can compare a command with its floor
// measured in the same run, under the same moods of a shared machine.
//
// The cases are read from a file (or stdin when the file is "-"), one a
// line, with fields separated by tabs:
//
//	NAME  STATUS  STDIN  PREP  ARG0 [ARG...]
//
// STATUS is the exit status the command must end with (a run that ends
// otherwise stops timeit with an error). STDIN is a file the command reads
// as its standard input, "-" for /dev/null. PREP is a shell command run
// before each run of the command, untimed (to put a message in a queue,
// say), "-" for none. ARG0 is the program to run, given as a path, and the
// remaining fields are its arguments; no shell is involved. Standard output
// goes to /dev/null, standard error is kept. In the arguments, {RUN} is
// replaced by the number of the run of that case, from 0, so that every run
// may use a name of its own (a dedup id, say).
//
// Every round runs each case once, in an order that rotates from round to
// round; the first -warmup rounds are not counted. A run is timed from just
// before the process is started to just after it has been waited for.
// timeit prints, for each case in the order given:
//
//	NAME MEDIAN_US P25_US P75_US MIN_US RUNS CPU_US
//
// where CPU_US is the median of the processor time (user and system) that
// the process used, which a busy machine disturbs less than wall time.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// testCase is one command to time.
type testCase struct {
	name   string
	status int
	stdin  string
	prep   string
	argv   []string
	times  []time.Duration
	cpu    []time.Duration
	runs   int // runs so far, for {RUN}
}

func main() {
	runs := flag.Int("runs", 200, "counted runs of each case")
	warmup := flag.Int("warmup", 3, "uncounted rounds first")
	flag.Parse()
	if flag.NArg() != 1 || *runs < 1 || *warmup < 0 {
		fail(errors.New("usage: timeit [-runs N] [-warmup N] CASES-FILE|-"))
	}
	cases, err := readCases(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	// The harness's own garbage collector must not run inside a timed run.
	debug.SetGCPercent(-1)
	for r := range *warmup + *runs {
		for i := range cases {
			c := cases[(r+i)%len(cases)]
			d, cpu, err := c.run()
			if err != nil {
				fail(err)
			}
			if r >= *warmup {
				c.times = append(c.times, d)
				c.cpu = append(c.cpu, cpu)
			}
		}
		if r%64 == 63 {
			debug.FreeOSMemory()
		}
	}
	for _, c := range cases {
		t := c.times
		slices.Sort(t)
		slices.Sort(c.cpu)
		q := func(p int) int64 { return t[(len(t)-1)*p/100].Microseconds() }
		fmt.Printf("%s %d %d %d %d %d %d\n", c.name, q(50), q(25), q(75), t[0].Microseconds(), len(t),
			c.cpu[(len(c.cpu)-1)/2].Microseconds())
	}
}

// readCases parses the cases file.
func readCases(path string) ([]*testCase, error) {
	f := os.Stdin
	if path != "-" {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, err
		}
		defer f.Close()
	}
	var cases []*testCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) < 5 {
			return nil, fmt.Errorf("case %q: want NAME STATUS STDIN PREP ARG0 [ARG...] separated by tabs", line)
		}
		c := &testCase{name: fields[0], stdin: fields[2], prep: fields[3], argv: fields[4:]}
		if _, err := fmt.Sscan(fields[1], &c.status); err != nil {
			return nil, fmt.Errorf("case %s: status %q: %w", c.name, fields[1], err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(cases) == 0 {
		return nil, errors.New("no cases")
	}
	return cases, nil
}

// run runs the case once after its preparation and returns how long the
// command took, in wall time and in processor time.
func (c *testCase) run() (wall, cpu time.Duration, err error) {
	if c.prep != "-" {
		prep := exec.Command("/bin/sh", "-c", c.prep)
		prep.Stdout, prep.Stderr = os.Stderr, os.Stderr
		if err := prep.Run(); err != nil {
			return 0, 0, fmt.Errorf("%s: prepare: %w", c.name, err)
		}
	}
	in := os.DevNull
	if c.stdin != "-" {
		in = c.stdin
	}
	stdin, err := os.Open(in)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", c.name, err)
	}
	defer stdin.Close()
	stdout, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, 0, err
	}
	defer stdout.Close()
	attr := &os.ProcAttr{Files: []*os.File{stdin, stdout, os.Stderr}}
	start := time.Now()
	argv := make([]string, len(c.argv))
	for i, a := range c.argv {
		argv[i] = strings.ReplaceAll(a, "{RUN}", fmt.Sprint(c.runs))
	}
	c.runs++
	p, err := os.StartProcess(argv[0], argv, attr)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", c.name, err)
	}
	st, err := p.Wait()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", c.name, err)
	}
	if st.ExitCode() != c.status {
		return 0, 0, fmt.Errorf("%s: exit status %d, want %d", c.name, st.ExitCode(), c.status)
	}
	return d, st.UserTime() + st.SystemTime(), nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "timeit:", err)
	os.Exit(2)
}
