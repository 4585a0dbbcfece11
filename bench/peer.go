// Package bench compares evento with a peer Go event-sourcing library,
// github.com/hallgren/eventsourcing (v0.9.1, with its SQL event store
// eventstore/sql v0.7.0), on the same workloads, the same SQLite file
// settings and the same PostgreSQL server, in the same process. It is a
// module of its own so that evento's go.mod never depends on the peer.
//
// The peer's SQL event store takes a *sql.DB: on SQLite it gets
// modernc.org/sqlite (the driver evento uses) with evento's pragmas, on
// PostgreSQL pgx's database/sql driver. Its payload encoder is its default,
// JSON; evento's is CBOR.
package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/eventogo/evento/internal/benchwork"
	"github.com/hallgren/eventsourcing"
	"github.com/hallgren/eventsourcing/aggregate"
	"github.com/hallgren/eventsourcing/core"
	peersql "github.com/hallgren/eventsourcing/eventstore/sql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// PeerWorkloads are the workloads the peer runs: W5-snapshot needs a
// persistent snapshot store (the peer's SQL module has none), W4 needs
// its single-writer mode on SQLite, W7 a subscription (the peer has
// projections over a fetcher, not leased subscriptions).
var PeerWorkloads = []string{"W1", "W2", "W3", "W5", "W6"}

// Happened is the peer's event: the same fields as benchwork.Happened.
type Happened struct {
	N    int
	Note string
}

// Item is the peer's aggregate.
type Item struct {
	aggregate.Root
	Count, Sum int
}

// Transition implements the peer's aggregate interface.
func (i *Item) Transition(e eventsourcing.Event) {
	switch d := e.Data().(type) {
	case *Happened:
		i.Count++
		i.Sum += d.N
	case Happened:
		i.Count++
		i.Sum += d.N
	}
}

// Register implements the peer's aggregate interface.
func (i *Item) Register(r aggregate.RegisterFunc) { r(&Happened{}) }

func init() { aggregate.Register(&Item{}) }

const note = "benchmark payload, 32 bytes ...."

// PeerStore is a fresh peer event store and what closes it.
type PeerStore struct {
	ES    core.EventStore
	Close func() error
}

// OpenPeer opens a fresh peer event store of the backend named like
// evento's: "sqlite(FULL)", "sqlite(NORMAL)" (a new file in dir) or
// "postgres" (a new schema on the server at dsn).
func OpenPeer(ctx context.Context, backend, dir, dsn string) (*PeerStore, error) {
	name := unique()
	switch backend {
	case "sqlite(FULL)", "sqlite(NORMAL)":
		sync := "FULL"
		if backend == "sqlite(NORMAL)" {
			sync = "NORMAL"
		}
		path := filepath.Join(dir, "peer-"+name+".db")
		pragmas := url.Values{"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(" + sync + ")", "foreign_keys(1)"}}
		db, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode())
		if err != nil {
			return nil, err
		}
		es, err := peersql.NewSQLite(db)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("peer sqlite: %w", err)
		}
		return &PeerStore{ES: es, Close: func() error {
			err := db.Close()
			for _, s := range []string{"", "-wal", "-shm"} {
				if e := os.Remove(path + s); e != nil && !errors.Is(e, os.ErrNotExist) {
					err = errors.Join(err, e)
				}
			}
			return err
		}}, nil
	case "postgres":
		schema := "peer_bench_" + name
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return nil, err
		}
		drop := func() error {
			defer conn.Close(context.Background())
			_, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			return err
		}
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			return nil, errors.Join(err, drop())
		}
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, errors.Join(err, drop())
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		db, err := sql.Open("pgx", u.String())
		if err != nil {
			return nil, errors.Join(err, drop())
		}
		es, err := peersql.NewPostgres(db)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("peer postgres: %w", err), db.Close(), drop())
		}
		return &PeerStore{ES: es, Close: func() error { return errors.Join(db.Close(), drop()) }}, nil
	}
	return nil, fmt.Errorf("peer: no backend %q", backend)
}

func unique() string {
	b := make([]byte, 5)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func result(ops int, unit string, d time.Duration) benchwork.Result {
	return benchwork.Result{Ops: ops, Unit: unit, Duration: d}
}

// RunPeer runs workload n on the empty peer store es, with its untimed
// setup; it returns nil for a workload the peer does not run.
func RunPeer(ctx context.Context, es core.EventStore, n string, z benchwork.Sizes) (*benchwork.Result, error) {
	var (
		r   benchwork.Result
		err error
	)
	switch n {
	case "W1":
		r, err = peerW1(es, z)
	case "W2":
		r, err = peerW2(es, z)
	case "W3":
		r, err = peerW3(es, z)
	case "W5":
		if err := peerFill(es, benchwork.LoadID, z.LoadEvents, z.FillBatch); err != nil {
			return nil, err
		}
		r, err = peerW5(ctx, es, z)
	case "W6":
		for i, done := 0, 0; done < z.ReadEvents; i++ {
			k := min(z.FillBatch, z.ReadEvents-done)
			if err := peerFill(es, fmt.Sprintf("fill-%d", i), k, k); err != nil {
				return nil, err
			}
			done += k
		}
		r, err = peerW6(es, z)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", n, err)
	}
	return &r, nil
}

func newItem(id string) (*Item, error) {
	it := &Item{}
	return it, it.SetID(id)
}

func peerW1(es core.EventStore, z benchwork.Sizes) (benchwork.Result, error) {
	start := time.Now()
	for i := range z.NewAggregates {
		it, err := newItem(fmt.Sprintf("new-%d", i))
		if err != nil {
			return benchwork.Result{}, err
		}
		aggregate.TrackChange(it, &Happened{N: i, Note: note})
		if err := aggregate.Save(es, it); err != nil {
			return benchwork.Result{}, err
		}
	}
	return result(z.NewAggregates, "events", time.Since(start)), nil
}

// peerW2 keeps the aggregate in memory, as the peer's API does: each Save
// checks the aggregate's stored version against the one it holds.
func peerW2(es core.EventStore, z benchwork.Sizes) (benchwork.Result, error) {
	it, err := newItem("stream")
	if err != nil {
		return benchwork.Result{}, err
	}
	start := time.Now()
	for i := range z.StreamCommits {
		aggregate.TrackChange(it, &Happened{N: i, Note: note})
		if err := aggregate.Save(es, it); err != nil {
			return benchwork.Result{}, err
		}
	}
	return result(z.StreamCommits, "events", time.Since(start)), nil
}

func peerW3(es core.EventStore, z benchwork.Sizes) (benchwork.Result, error) {
	start := time.Now()
	for i := range z.BatchAggregates {
		it, err := newItem(fmt.Sprintf("batch-%d", i))
		if err != nil {
			return benchwork.Result{}, err
		}
		for j := range z.BatchSize {
			aggregate.TrackChange(it, &Happened{N: j, Note: note})
		}
		if err := aggregate.Save(es, it); err != nil {
			return benchwork.Result{}, err
		}
	}
	return result(z.BatchAggregates*z.BatchSize, "events", time.Since(start)), nil
}

func peerFill(es core.EventStore, id string, n, batch int) error {
	it, err := newItem(id)
	if err != nil {
		return err
	}
	for v := 0; v < n; {
		k := min(batch, n-v)
		for j := range k {
			aggregate.TrackChange(it, &Happened{N: v + j, Note: note})
		}
		if err := aggregate.Save(es, it); err != nil {
			return err
		}
		v += k
	}
	return nil
}

// peerW5 loads the aggregate Loads times (the peer reads all its events in
// one query).
func peerW5(ctx context.Context, es core.EventStore, z benchwork.Sizes) (benchwork.Result, error) {
	start := time.Now()
	for range z.Loads {
		it := &Item{}
		if err := aggregate.Load(ctx, es, benchwork.LoadID, it); err != nil {
			return benchwork.Result{}, err
		}
		if it.Count != z.LoadEvents {
			return benchwork.Result{}, fmt.Errorf("loaded %d events, want %d", it.Count, z.LoadEvents)
		}
	}
	return result(z.Loads, "loads", time.Since(start)), nil
}

// fetcher is what the peer's SQL stores return from All.
type fetcher interface {
	All(start core.Version) core.Fetcher
}

// peerW6 reads every event in global order through the peer's All
// fetcher: one query, no pages (the peer has no page size).
func peerW6(es core.EventStore, z benchwork.Sizes) (benchwork.Result, error) {
	f, ok := es.(fetcher)
	if !ok {
		return benchwork.Result{}, errors.New("the peer store cannot read all events")
	}
	start := time.Now()
	iter, err := f.All(0)()
	if err != nil {
		return benchwork.Result{}, err
	}
	n := 0
	for iter.Next() {
		if _, err := iter.Value(); err != nil {
			iter.Close()
			return benchwork.Result{}, err
		}
		n++
	}
	iter.Close()
	d := time.Since(start)
	if n != z.ReadEvents {
		return benchwork.Result{}, fmt.Errorf("read %d events, want %d", n, z.ReadEvents)
	}
	return result(n, "events", d), nil
}
