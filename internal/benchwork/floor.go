package benchwork

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/codec"
	"github.com/oklog/ulid/v2"
)

// ErrConflict is what a Floor's Insert returns when a row breaks the unique
// (aggregate_type, aggregate_id, version) index.
var ErrConflict = errors.New("benchwork: unique violation")

// Row is one event row as the floor writes it: the columns of the
// library's events table. The aggregate type and event name are those of
// [Happened].
type Row struct {
	ID          ulid.ULID
	AggregateID string
	Version     int64
	Data        []byte
	Metadata    []byte
	Timestamp   time.Time
}

// Floor writes and reads the rows the workloads write and read, through
// the raw driver with no library in between: the same table shape and
// unique indexes, plain INSERTs and SELECTs (or, for Pebble, a raw batch
// committed with Sync). What a workload costs through the library divided
// by what it costs here is the library's overhead.
type Floor interface {
	// Insert writes rows in one transaction, failing with ErrConflict on a
	// unique violation.
	Insert(ctx context.Context, rows []Row) error
	// LastVersion returns the highest version of aggregate id, 0 if none.
	LastVersion(ctx context.Context, id string) (int64, error)
	// ReadAll reads up to limit rows after global position after, in
	// global order, and returns how many it read and the last position.
	ReadAll(ctx context.Context, after int64, limit int) (n int, last int64, err error)
	// ReadAggregate reads up to limit rows of aggregate id with a version
	// above after, in version order, and returns how many and the last
	// version.
	ReadAggregate(ctx context.Context, id string, after int64, limit int) (n int, last int64, err error)
	// Close releases the floor (and drops what it created, for a server).
	Close() error
}

// rowMaker builds rows with the payload and metadata bytes the library
// would write for the same event, encoded once.
type rowMaker struct{ data, metadata []byte }

func newRowMaker() rowMaker {
	data, err := codec.CBOR().Marshal(payload(1))
	if err != nil {
		panic(err)
	}
	md, err := evento.Metadata{ID: ulid.Make().String()}.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return rowMaker{data: data, metadata: md}
}

func (m rowMaker) rows(id string, from int64, n int) []Row {
	rows := make([]Row, n)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i := range rows {
		rows[i] = Row{ID: ulid.Make(), AggregateID: id, Version: from + int64(i) + 1,
			Data: m.data, Metadata: m.metadata, Timestamp: now}
	}
	return rows
}

// FloorW1 is W1 through the floor.
func FloorW1(ctx context.Context, f Floor, z Sizes) (Result, error) {
	m := newRowMaker()
	lat := make(latencies, 0, z.NewAggregates)
	start := time.Now()
	for i := range z.NewAggregates {
		t := time.Now()
		if err := f.Insert(ctx, m.rows(fmt.Sprintf("new-%d", i), 0, 1)); err != nil {
			return Result{}, fmt.Errorf("floor W1: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	return result(z.NewAggregates, "events", time.Since(start), lat), nil
}

// FloorW2 is W2 through the floor: the version comes from the caller, the
// unique index enforces it.
func FloorW2(ctx context.Context, f Floor, z Sizes) (Result, error) {
	m := newRowMaker()
	lat := make(latencies, 0, z.StreamCommits)
	start := time.Now()
	for i := range z.StreamCommits {
		t := time.Now()
		if err := f.Insert(ctx, m.rows("stream", int64(i), 1)); err != nil {
			return Result{}, fmt.Errorf("floor W2: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	return result(z.StreamCommits, "events", time.Since(start), lat), nil
}

// FloorW3 is W3 through the floor.
func FloorW3(ctx context.Context, f Floor, z Sizes) (Result, error) {
	m := newRowMaker()
	lat := make(latencies, 0, z.BatchAggregates)
	start := time.Now()
	for i := range z.BatchAggregates {
		t := time.Now()
		if err := f.Insert(ctx, m.rows(fmt.Sprintf("batch-%d", i), 0, z.BatchSize)); err != nil {
			return Result{}, fmt.Errorf("floor W3: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	return result(z.BatchAggregates*z.BatchSize, "events", time.Since(start), lat), nil
}

// FloorW4Distinct is W4Distinct through the floor.
func FloorW4Distinct(ctx context.Context, f Floor, z Sizes) (Result, error) {
	m := newRowMaker()
	return concurrently(z, func(w int, lat *latencies) (int, error) {
		id := fmt.Sprintf("writer-%d", w)
		for i := range z.CommitsPerWriter {
			t := time.Now()
			if err := f.Insert(ctx, m.rows(id, int64(i), 1)); err != nil {
				return 0, fmt.Errorf("floor W4 distinct: %w", err)
			}
			*lat = append(*lat, time.Since(t))
		}
		return 0, nil
	})
}

// FloorW4Shared is W4Shared through the floor: read the last version,
// insert the next, retry on a unique violation.
func FloorW4Shared(ctx context.Context, f Floor, z Sizes) (Result, error) {
	m := newRowMaker()
	return concurrently(z, func(w int, lat *latencies) (int, error) {
		conflicts := 0
		for range z.CommitsPerWriter {
			t := time.Now()
			for {
				v, err := f.LastVersion(ctx, "shared")
				if err != nil {
					return 0, fmt.Errorf("floor W4 shared: %w", err)
				}
				err = f.Insert(ctx, m.rows("shared", v, 1))
				if err == nil {
					break
				}
				if !errors.Is(err, ErrConflict) {
					return 0, fmt.Errorf("floor W4 shared: %w", err)
				}
				conflicts++
			}
			*lat = append(*lat, time.Since(t))
		}
		return conflicts, nil
	})
}

// FloorFillAggregate writes n rows of aggregate id in transactions of
// batch rows (untimed setup).
func FloorFillAggregate(ctx context.Context, f Floor, id string, n, batch int) error {
	m := newRowMaker()
	for v := 0; v < n; {
		k := min(batch, n-v)
		if err := f.Insert(ctx, m.rows(id, int64(v), k)); err != nil {
			return fmt.Errorf("floor fill %s: %w", id, err)
		}
		v += k
	}
	return nil
}

// FloorFillStore writes ReadEvents rows, as FillStore does.
func FloorFillStore(ctx context.Context, f Floor, z Sizes) error {
	for i, n := 0, 0; n < z.ReadEvents; i++ {
		k := min(z.FillBatch, z.ReadEvents-n)
		if err := FloorFillAggregate(ctx, f, fmt.Sprintf("fill-%d", i), k, k); err != nil {
			return err
		}
		n += k
	}
	return nil
}

// FloorW5 reads the aggregate's rows Loads times, in pages of 1,000 as the
// projection does, without decoding the payloads.
func FloorW5(ctx context.Context, f Floor, z Sizes, id string) (Result, error) {
	lat := make(latencies, 0, z.Loads)
	start := time.Now()
	for range z.Loads {
		t := time.Now()
		total := 0
		var after int64
		for {
			n, last, err := f.ReadAggregate(ctx, id, after, 1000)
			if err != nil {
				return Result{}, fmt.Errorf("floor W5: %w", err)
			}
			total += n
			after = last
			if n < 1000 {
				break
			}
		}
		if total != z.LoadEvents {
			return Result{}, fmt.Errorf("floor W5: read %d rows, want %d", total, z.LoadEvents)
		}
		lat = append(lat, time.Since(t))
	}
	return result(z.Loads, "loads", time.Since(start), lat), nil
}

// FloorRead reads every row in pages of pageSize in global order and
// checks there are want: the floor of W6 (pages of PageSize) and of W7
// (pages of the subscription's chunk size).
func FloorRead(ctx context.Context, f Floor, pageSize, want int) (Result, error) {
	start := time.Now()
	total := 0
	var after int64
	for {
		n, last, err := f.ReadAll(ctx, after, pageSize)
		if err != nil {
			return Result{}, fmt.Errorf("floor read: %w", err)
		}
		total += n
		after = last
		if n < pageSize {
			break
		}
	}
	d := time.Since(start)
	if total != want {
		return Result{}, fmt.Errorf("floor read: read %d rows, want %d", total, want)
	}
	return result(total, "events", d, nil), nil
}
