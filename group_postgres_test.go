package evento_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/evtest"
	"github.com/eventogo/evento/internal/testenv"
	"github.com/eventogo/evento/postgres"
	"github.com/jackc/pgx/v5"
)

// openPostgres returns a PostgreSQL executor on a schema of its own, dropped
// when the test ends. An unreachable server skips the test, or fails it in
// CI.
func openPostgres(t *testing.T) *postgres.Executor {
	t.Helper()
	dsn := testenv.DSN("EVENTO_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL (EVENTO_POSTGRES_DSN)", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "evento_group_" + hex.EncodeToString(b)
	x, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	if err != nil {
		conn.Close(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() {
		x.Close()
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		conn.Close(context.Background())
	})
	return x
}

// A group of a SQLite store (written to) and a PostgreSQL store keeps the
// contract; the PostgreSQL member contributes its own events to reads.
func TestGroupSQLitePostgresConformance(t *testing.T) {
	evtest.Run(t, func(t *testing.T) evento.Executor {
		g, err := evento.NewGroup(openSQLite(t), openPostgres(t))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}, evtest.Features{})
}

func TestGroupSQLitePostgresPaging(t *testing.T) {
	execs := []evento.Executor{openSQLite(t), openPostgres(t)}
	stores := []*evento.Store{evento.New(execs[0]), evento.New(execs[1])}
	want := fillMembers(t, stores, 120)
	g, err := evento.NewGroup(execs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 5, 1000} {
		for _, backward := range []bool{false, true} {
			got := walk(t, g, evento.Query{}, size, backward)
			parts := byMember(got, want)
			for m := range want {
				if len(parts[m]) != len(want[m]) {
					t.Fatalf("size %d, backward %v: member %d gave %d events, want %d", size, backward, m, len(parts[m]), len(want[m]))
				}
				for i := range want[m] {
					if parts[m][i] != want[m][i] {
						t.Fatalf("size %d, backward %v: member %d event %d out of order", size, backward, m, i)
					}
				}
			}
		}
	}
}
