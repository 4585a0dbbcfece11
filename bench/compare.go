package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/eventogo/evento/internal/benchwork"
	"github.com/eventogo/evento/sqlite"
)

// Target is one backend measured three ways: evento, the floor and the peer.
type Target struct {
	Backend benchwork.Backend
	// Dir holds the peer's SQLite files; DSN is the peer's PostgreSQL server.
	Dir, DSN string
}

// SQLiteTarget and PostgresTarget build targets.
func SQLiteTarget(dir string, sync sqlite.Synchronous) Target {
	return Target{Backend: benchwork.SQLite(dir, sync), Dir: dir}
}

// PostgresTarget measures the server at dsn.
func PostgresTarget(dsn string) Target {
	return Target{Backend: benchwork.Postgres(dsn), DSN: dsn}
}

// Compare runs each workload runs times on each target: per run evento on
// a fresh store, the floor on a fresh table, then the peer on a fresh
// store, one after the other in this process.
func Compare(ctx context.Context, targets []Target, names []string, z benchwork.Sizes, runs int, progress func(string)) ([]*benchwork.Measure, error) {
	var all []*benchwork.Measure
	for _, t := range targets {
		ms := make([]*benchwork.Measure, len(names))
		for i, n := range names {
			ms[i] = &benchwork.Measure{Workload: n, Store: t.Backend.Name}
		}
		all = append(all, ms...)
		for run := range runs {
			for i, n := range names {
				if progress != nil {
					progress(fmt.Sprintf("%s %s run %d/%d", t.Backend.Name, n, run+1, runs))
				}
				got, err := benchwork.Run(ctx, t.Backend, []string{n}, z, 1, nil)
				if err != nil {
					return all, err
				}
				ms[i].Library = append(ms[i].Library, got[0].Library...)
				ms[i].Floor = append(ms[i].Floor, got[0].Floor...)
				if !slices.Contains(PeerWorkloads, n) {
					continue
				}
				ps, err := OpenPeer(ctx, t.Backend.Name, t.Dir, t.DSN)
				if err != nil {
					return all, err
				}
				r, err := RunPeer(ctx, ps.ES, n, z)
				if err = errors.Join(err, ps.Close()); err != nil {
					return all, fmt.Errorf("%s on %s: %w", n, t.Backend.Name, err)
				}
				if r != nil {
					ms[i].Peer = append(ms[i].Peer, *r)
				}
			}
		}
	}
	return all, nil
}
