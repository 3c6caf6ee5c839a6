// Package cli implements the presence command: parsing, configuration and
// the wiring of the adapters (engine, store, HTTP) for each subcommand.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"setup":     {"fetch and verify ONNX Runtime and the models into the cache", runSetup},
		"models":    {"list the models in use; reload, rollback or list the history of the set in service (every node follows)", runModels},
		"check":     {"judge photos: liveness verdict, and face match against --reference", runCheck},
		"serve":     {"run the HTTP API (liveness sessions), SQLite by default, PostgreSQL with --db postgres://", runServe},
		"apikey":    {"create, list and revoke relying-party API keys", runAPIKey},
		"app":       {"the face-login app's OpenID Provider: register client applications, rotate the signing key", runApp},
		"templates": {"manage the key that encrypts face templates (keygen)", runTemplates},
		"bench":     {"measure latency and throughput of the pipeline or the HTTP flow (--compare for ratios)", runBench},
		"eval":      {"measure liveness (eval pad DIR) or matching (eval verify DIR) on labelled data", runEval},
	}
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// errReported means the command already printed its errors.
var errReported = errors.New("errors reported")

// Main runs the command line and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, cmds)
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "presence: unknown command %q (see `presence help`)\n", args[0])
		return 2
	}
	err := cmd.run(args[1:], stdout, stderr)
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return 1
	case errors.As(err, &ee):
		fmt.Fprintf(stderr, "presence %s: %v\n", args[0], ee.err)
		return ee.code
	default:
		fmt.Fprintf(stderr, "presence %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Presence: self-hosted face liveness and face verification.")
	fmt.Fprintln(w, "\nUsage: presence COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun `presence COMMAND -h` for a command's flags.")
}

// newFlagSet returns a flag set that prints its usage to stderr and
// returns errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: presence %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}
