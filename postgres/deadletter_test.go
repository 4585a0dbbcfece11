package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/sqlstore/sqlstoretest"
	"github.com/eventogo/evento/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgxTxExec runs stmt through the pgx.Tx a transactional handler gets.
func pgxTxExec(ctx context.Context, stmt string) error {
	tx, ok := evento.TxFrom[pgx.Tx](ctx)
	if !ok {
		return errors.New("the handler's context carries no pgx.Tx")
	}
	_, err := tx.Exec(ctx, stmt)
	return err
}

func TestAcknowledgements(t *testing.T) {
	sqlstoretest.Run(t, sqlstoretest.Harness{
		Open: func(t *testing.T) sqlstoretest.Executor { return open(t) },
		Table: func(x sqlstoretest.Executor, name string) string {
			return x.(*postgres.Executor).Table(name)
		},
		Exec: func(t *testing.T, x sqlstoretest.Executor, stmt string) {
			t.Helper()
			if _, err := x.(*postgres.Executor).Pool().Exec(context.Background(), stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		},
		Count: func(t *testing.T, x sqlstoretest.Executor, query string) int {
			t.Helper()
			var n int
			if err := x.(*postgres.Executor).Pool().QueryRow(context.Background(), query).Scan(&n); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			return n
		},
		TxExec: pgxTxExec,
	})
}

// PostgreSQL's text holds valid UTF-8 without NUL bytes: an error message
// that is not is stored with U+FFFD in place of the bytes it cannot hold,
// rather than making the acknowledgement fail over and over.
func TestAcknowledgeInvalidUTF8(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	l, err := x.AcquireLease(ctx, "k", "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	msg := "bad \xff byte and a \x00"
	ack := evento.Ack{Cursor: cursor.Encode(cursor.Position{Tx: 9, Seq: 1}), Error: &evento.SubscriptionError{EventID: "E", Message: msg},
		Park: []*evento.DeadLetter{{EventID: "E", Event: []byte{0, 0xff}, Error: msg}}}
	if err := x.Acknowledge(ctx, l, ack); err != nil {
		t.Fatal(err)
	}
	const want = "bad \uFFFD byte and a \uFFFD"
	st, err := x.SubscriptionStatus(ctx, "k")
	if err != nil || st.LastError == nil || st.LastError.Message != want {
		t.Errorf("status = %+v, %v; want message %q", st, err, want)
	}
	dls, err := x.DeadLetters(ctx, "k", 1)
	if err != nil || len(dls) != 1 || dls[0].Error != want || string(dls[0].Event) != "\x00\xff" {
		t.Errorf("DeadLetters = %v, %v", dls, err)
	}
}

// A schema made by a build that knew only the first version upgrades when
// opened: its subscriptions keep their state and gain the error columns,
// and the dead letters table appears.
func TestSchemaUpgradeFromVersion1(t *testing.T) {
	ctx := context.Background()
	schema := freshSchema(t)
	conn := connect(t)
	pool, err := pgxpool.New(ctx, dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := postgres.MigrateTo(ctx, pool, 1, postgres.WithSchema(schema), postgres.WithTablePrefix("app_")); err != nil {
		t.Fatal(err)
	}
	c := cursor.Encode(cursor.Position{Tx: 7, Seq: 41})
	if _, err := conn.Exec(ctx, `INSERT INTO "`+schema+`".app_subscriptions ("key", owner, epoch, expires_at, cursor, lag, updated_at)`+
		` VALUES ('k', NULL, 3, NULL, $1, 1500, now())`, string(c)); err != nil {
		t.Fatal(err)
	}

	x := openIn(t, schema, postgres.WithTablePrefix("app_"))
	if v, err := x.SchemaVersion(ctx); err != nil || v != (evento.SchemaVersion{Applied: latestSchema, Latest: latestSchema}) {
		t.Fatalf("SchemaVersion = %+v, %v; want %d of %d", v, err, latestSchema, latestSchema)
	}
	st, err := x.SubscriptionStatus(ctx, "k")
	if err != nil || st.Epoch != 3 || st.Cursor != c || st.Lag != 1500*time.Microsecond || st.LastError != nil {
		t.Fatalf("status after the upgrade = %+v, %v", st, err)
	}
	l, err := x.AcquireLease(ctx, "k", "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ack := evento.Ack{Cursor: cursor.Encode(cursor.Position{Tx: 7, Seq: 42}),
		Error: &evento.SubscriptionError{EventID: "E", Message: "m", Fatal: true},
		Park:  []*evento.DeadLetter{{EventID: "E", Event: []byte("e"), Error: "m"}}}
	if err := x.Acknowledge(ctx, l, ack); err != nil {
		t.Fatal(err)
	}
	st, err = x.SubscriptionStatus(ctx, "k")
	if err != nil || st.LastError == nil || st.LastError.EventID != "E" || !st.LastError.Fatal {
		t.Errorf("status = %+v, %v", st, err)
	}
	if dls, err := x.DeadLetters(ctx, "k", 10); err != nil || len(dls) != 1 {
		t.Errorf("DeadLetters = %v, %v", dls, err)
	}
}
