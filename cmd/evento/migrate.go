package main

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/stores"
)

var migrateCommand = &command{
	name:    "migrate",
	args:    "[apply | status] [flags]",
	summary: "create the store or bring its schema up to date; show its version",
	help: `
evento migrate [apply]
    Creates the store if it does not exist and applies every schema
    migration it lacks. Migrations are safe to run from several processes
    at once.

evento migrate status
    Prints the schema version the store has applied and the latest one this
    build knows, or says that the store does not track one. Every store
    brings its schema up to date when it opens, so an older store is
    upgraded by any evento command, this one included; status does not
    create a store that does not exist (exit 3).`,
	flags: func(fs *flagSet) func(context.Context, *cli, []string) error {
		return func(ctx context.Context, c *cli, args []string) error {
			sub := "apply"
			if len(args) > 0 {
				sub = args[0]
			}
			if len(args) > 1 || (sub != "apply" && sub != "status") {
				return usageErrorf("migrate: want 'apply' or 'status', got %q", args).hint("run 'evento help migrate'")
			}
			exec, done, err := c.open(ctx, sub == "status")
			if err != nil {
				return err
			}
			defer done()
			return printSchema(ctx, c, exec, sub == "apply")
		}
	},
}

// schemaView is the schema version in JSON.
type schemaView struct {
	Store    string `json:"store"`
	Tracked  bool   `json:"tracked"`
	Applied  int64  `json:"applied,omitempty"`
	Latest   int64  `json:"latest,omitempty"`
	UpToDate bool   `json:"up_to_date"`
}

func printSchema(ctx context.Context, c *cli, exec evento.Executor, applied bool) error {
	spec := c.store
	if spec == "" {
		spec = c.getenv(stores.EnvVar)
	}
	out := schemaView{Store: stores.Redact(spec), UpToDate: true}
	if m, ok := exec.(evento.Migrator); ok {
		v, err := m.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		out.Tracked, out.Applied, out.Latest, out.UpToDate = true, v.Applied, v.Latest, v.Applied >= v.Latest
	}
	if c.json() {
		return writeJSON(c.stdout, out)
	}
	switch {
	case !out.Tracked && applied:
		fmt.Fprintf(c.stdout, "%s: schema up to date (the store does not track a version)\n", out.Store)
	case !out.Tracked:
		fmt.Fprintf(c.stdout, "%s: schema version not tracked by this store\n", out.Store)
	case out.Applied > out.Latest:
		fmt.Fprintf(c.stdout, "%s: schema version %d, newer than this build's %d: upgrade evento\n", out.Store, out.Applied, out.Latest)
	default:
		fmt.Fprintf(c.stdout, "%s: schema version %d (latest %d), up to date\n", out.Store, out.Applied, out.Latest)
	}
	return nil
}

var versionCommand = &command{
	name:    "version",
	args:    "",
	summary: "print the version of evento",
	help:    `Prints the module version evento was built from.`,
	flags: func(fs *flagSet) func(context.Context, *cli, []string) error {
		return func(ctx context.Context, c *cli, args []string) error {
			version := "(unknown)"
			if bi, ok := debug.ReadBuildInfo(); ok {
				version = bi.Main.Version
			}
			if c.json() {
				return writeJSON(c.stdout, map[string]string{"version": version})
			}
			fmt.Fprintln(c.stdout, "evento", version)
			return nil
		}
	},
}
