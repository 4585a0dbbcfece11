// Command evento inspects and administers an evento store: it lists and
// tails events, shows aggregates, lists and resets subscriptions, counts
// what the store holds and applies schema migrations. One binary serves
// every store; a DSN-like spec chooses which:
//
//	go install github.com/eventogo/evento/cmd/evento@latest
//	evento events --store sqlite:./events.db --last 20
//	EVENTO_STORE=pebble:./data evento subscriptions
//
// Run `evento help` for the commands, their flags and the exit codes.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := newCLI(stdout, stderr, getenv)
	err := c.dispatch(ctx, args)
	if err == nil {
		return exitOK
	}
	return c.report(err)
}

// command is one subcommand of evento.
type command struct {
	name    string
	args    string // the synopsis after the name, e.g. "TYPE ID [flags]"
	summary string
	// help is the long description printed by `evento help NAME`, before
	// the flags.
	help string
	// flags declares the command's own flags on fs; it returns the
	// function that runs the command with its positional arguments.
	flags func(fs *flagSet) func(ctx context.Context, c *cli, args []string) error
}

// commands lists every subcommand, in the order help prints them.
var commands = []*command{
	migrateCommand,
	eventsCommand,
	aggregateCommand,
	subscriptionsCommand,
	statsCommand,
	benchCommand,
	versionCommand,
}

func lookup(name string) *command {
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

const overview = `evento inspects and administers an evento event store.

Usage:
  evento [--store SPEC] [-o table|json] [-v] COMMAND [flags] [args]

Commands:
%s
  help [COMMAND]   print this help, or a command's

Common flags (before or after the command):
  --store SPEC     the store; the default is $EVENTO_STORE
  -o FORMAT        output format: table (aligned columns, the default) or
                   json (for scripts; --follow prints one JSON object a line)
  -v               log what evento does to standard error

Store specs:
%s
Exit codes:
  0  success
  1  runtime error (the store failed, the connection broke, ...)
  2  usage error (unknown command or flag, bad argument, bad store spec)
  3  not found (no store at the spec, no such aggregate or subscription)
  4  lease held: a live worker holds the subscription (reset refused)
  5  not supported by this store
`

// specHelp describes the store specs package stores reads.
const specHelp = `  sqlite:PATH                        SQLite database file
  pebble:DIR                         Pebble directory (one process at a time:
                                     stop the application to inspect it)
  postgres://USER:PASS@HOST:PORT/DB  PostgreSQL (or postgresql://); add
                                     &schema=NAME for another schema
  mysql://USER:PASS@HOST:PORT/DB     MySQL or MariaDB
  Any spec may end with ?prefix=NAME for a store created with a table or
  key prefix; other parameters go to the driver (e.g. sslmode=disable).
`

func printOverview(w io.Writer) {
	list := ""
	for _, cmd := range commands {
		list += fmt.Sprintf("  %-16s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, overview, list, specHelp)
}
