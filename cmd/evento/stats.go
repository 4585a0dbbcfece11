package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/eventogo/evento"
)

var statsCommand = &command{
	name:    "stats",
	args:    "[flags]",
	summary: "count events per aggregate type and name; show the store's size",
	help: `
Counts the events per aggregate type and event name and the aggregates per
type, and shows the store's size as its engine reports it (SQLite: the
database pages, without the write-ahead log; Pebble: the disk space of
the database, write-ahead log included). Needs a store that can count
(exit 5 if not).`,
	flags: func(fs *flagSet) func(context.Context, *cli, []string) error {
		return func(ctx context.Context, c *cli, args []string) error {
			if len(args) > 0 {
				return usageErrorf("stats takes no arguments, got %q", args)
			}
			exec, done, err := c.open(ctx, true)
			if err != nil {
				return err
			}
			defer done()
			return showStats(ctx, c, exec)
		}
	},
}

func showStats(ctx context.Context, c *cli, exec evento.Executor) error {
	s, ok := exec.(evento.Statistician)
	if !ok {
		return wrap(exitUnsupported, fmt.Errorf("%w: counting events", evento.ErrUnsupported)).
			hint("this store cannot report statistics; 'evento events' still lists its events")
	}
	st, err := s.Stats(ctx)
	if err != nil {
		return err
	}
	return printStats(c, st)
}

// statsView is the statistics in JSON.
type statsView struct {
	Types      []typeView `json:"types"`
	Events     int64      `json:"events"`
	Aggregates int64      `json:"aggregates"`
	SizeBytes  int64      `json:"size_bytes"`
}

type typeView struct {
	AggregateType string     `json:"aggregate_type"`
	Aggregates    int64      `json:"aggregates"`
	Events        int64      `json:"events"`
	Names         []nameView `json:"names"`
}

type nameView struct {
	Name   string `json:"name"`
	Events int64  `json:"events"`
}

func printStats(c *cli, st *evento.Stats) error {
	out := statsView{Types: make([]typeView, 0, len(st.Types)), SizeBytes: st.Size}
	for _, ts := range st.Types {
		tv := typeView{AggregateType: ts.AggregateType, Aggregates: ts.Aggregates, Events: ts.Events,
			Names: make([]nameView, 0, len(ts.Names))}
		for _, n := range ts.Names {
			tv.Names = append(tv.Names, nameView{Name: n.Name, Events: n.Events})
		}
		out.Types = append(out.Types, tv)
		out.Events += ts.Events
		out.Aggregates += ts.Aggregates
	}
	if c.json() {
		return writeJSON(c.stdout, out)
	}
	if len(out.Types) > 0 {
		t := newTable(c.stdout, "TYPE", "NAME", "EVENTS")
		for _, tv := range out.Types {
			for _, n := range tv.Names {
				t.row(tv.AggregateType, n.Name, strconv.FormatInt(n.Events, 10))
			}
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout)
		t = newTable(c.stdout, "TYPE", "AGGREGATES", "EVENTS")
		for _, tv := range out.Types {
			t.row(tv.AggregateType, strconv.FormatInt(tv.Aggregates, 10), strconv.FormatInt(tv.Events, 10))
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout)
	}
	size := formatBytes(out.SizeBytes)
	if out.SizeBytes >= 1024 {
		size += fmt.Sprintf(" (%d bytes)", out.SizeBytes)
	}
	fmt.Fprintf(c.stdout, "total: %d events, %d aggregates, %d types; store size %s\n",
		out.Events, out.Aggregates, len(out.Types), size)
	return nil
}
