package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/stores"
)

// cli holds what every command shares: the output streams, the common
// flags and the logger.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	store          string
	output         string
	verbose        bool
	log            *slog.Logger
}

func newCLI(stdout, stderr io.Writer, getenv func(string) string) *cli {
	return &cli{stdout: stdout, stderr: stderr, getenv: getenv, output: "table", log: slog.New(slog.DiscardHandler)}
}

// flagSet is a command's flags: the standard flag package, plus the common
// flags and parsing that accepts flags after positional arguments.
type flagSet struct {
	*flag.FlagSet
}

// common declares the flags every command accepts, bound to c.
func (c *cli) common(fs *flag.FlagSet) {
	fs.StringVar(&c.store, "store", c.store, "the store `SPEC` (default $"+stores.EnvVar+")")
	fs.StringVar(&c.output, "o", c.output, "output `format`: table or json")
	fs.BoolVar(&c.verbose, "v", c.verbose, "log what evento does to standard error")
}

// parse parses args, flags and positional arguments in any order (up to a
// "--", after which everything is positional), and returns the positional
// arguments.
func (fs *flagSet) parse(args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// dispatch parses the common flags and the command name and runs the
// command.
func (c *cli) dispatch(ctx context.Context, args []string) error {
	top := flag.NewFlagSet("evento", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	c.common(top)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printOverview(c.stdout)
			return nil
		}
		return usageErrorf("%v", err).hint("run 'evento help' for the commands and flags")
	}
	args = top.Args()
	if len(args) == 0 {
		printOverview(c.stderr)
		return usageErrorf("no command given")
	}
	name, args := args[0], args[1:]
	if name == "help" {
		return c.help(args)
	}
	cmd := lookup(name)
	if cmd == nil {
		return usageErrorf("unknown command %q", name).hint("run 'evento help' for the commands")
	}

	fs := &flagSet{flag.NewFlagSet("evento "+cmd.name, flag.ContinueOnError)}
	fs.SetOutput(io.Discard)
	c.common(fs.FlagSet)
	runCmd := cmd.flags(fs)
	positional, err := fs.parse(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(c.stdout, cmd)
			return nil
		}
		return usageErrorf("%s: %v", cmd.name, err).hint("run 'evento help %s' for its flags", cmd.name)
	}
	if c.output != "table" && c.output != "json" {
		return usageErrorf("-o %q: want table or json", c.output)
	}
	if c.verbose {
		c.log = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return runCmd(ctx, c, positional)
}

func (c *cli) help(args []string) error {
	if len(args) == 0 {
		printOverview(c.stdout)
		return nil
	}
	cmd := lookup(args[0])
	if cmd == nil {
		return usageErrorf("unknown command %q", args[0]).hint("run 'evento help' for the commands")
	}
	printCommandHelp(c.stdout, cmd)
	return nil
}

func printCommandHelp(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "Usage: evento %s %s\n\n%s\n", cmd.name, cmd.args, strings.TrimSpace(cmd.help))
	fs := &flagSet{flag.NewFlagSet(cmd.name, flag.ContinueOnError)}
	cmd.flags(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fmt.Fprintln(w, "\nCommon flags: --store SPEC, -o table|json, -v (see 'evento help').")
}

// json reports whether the output format is JSON.
func (c *cli) json() bool { return c.output == "json" }

// open opens the store of --store or $EVENTO_STORE. With existing, a
// SQLite file or Pebble directory that does not exist is an error rather
// than a new, empty store.
func (c *cli) open(ctx context.Context, existing bool) (evento.Executor, func(), error) {
	spec := c.store
	if spec == "" {
		spec = c.getenv(stores.EnvVar)
	}
	if spec == "" {
		return nil, nil, usageErrorf("no store given").
			hint("pass --store SPEC or set %s, e.g. --store sqlite:./events.db ('evento help' lists the specs)", stores.EnvVar)
	}
	var opts []stores.Option
	if existing {
		opts = append(opts, stores.Existing())
	}
	c.log.DebugContext(ctx, "opening store", "spec", stores.Redact(spec))
	exec, closeStore, err := stores.Open(ctx, spec, opts...)
	switch {
	case errors.Is(err, stores.ErrNoStore):
		return nil, nil, wrap(exitNotFound, err).
			hint("check the path; to create a new store run: evento migrate --store %s", stores.Redact(spec))
	case errors.Is(err, stores.ErrSpec):
		return nil, nil, wrap(exitUsage, err).hint("store specs are listed by 'evento help'")
	case err != nil:
		return nil, nil, wrap(exitRuntime, fmt.Errorf("open %s: %w", stores.Redact(spec), err)).hint("%s", openHint(spec))
	}
	return exec, func() {
		if err := closeStore(); err != nil {
			c.log.WarnContext(ctx, "closing store", "error", err)
		}
	}, nil
}

// openHint suggests what to do when a store does not open.
func openHint(spec string) string {
	if strings.HasPrefix(spec, "pebble:") {
		return "Pebble lets one process at a time open a directory: stop the application that has it open, or check the path"
	}
	return "check the spec, that the store is reachable and that you may open it"
}
