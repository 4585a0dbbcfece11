package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/internal/sqlstore/sqlstoretest"
	"github.com/eventogo/evento/mysql"
)

// sqlTxExec runs stmt through the *sql.Tx a transactional handler gets.
func sqlTxExec(ctx context.Context, stmt string) error {
	tx, ok := evento.TxFrom[*sql.Tx](ctx)
	if !ok {
		return errors.New("the handler's context carries no *sql.Tx")
	}
	_, err := tx.ExecContext(ctx, stmt)
	return err
}

func TestAcknowledgements(t *testing.T) {
	sqlstoretest.Run(t, sqlstoretest.Harness{
		Open: func(t *testing.T) sqlstoretest.Executor { return open(t) },
		Exec: func(t *testing.T, x sqlstoretest.Executor, stmt string) {
			t.Helper()
			if _, err := x.(*mysql.Executor).DB().Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		},
		Count: func(t *testing.T, x sqlstoretest.Executor, query string) int {
			t.Helper()
			var n int
			if err := x.(*mysql.Executor).DB().QueryRow(query).Scan(&n); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			return n
		},
		TxExec: sqlTxExec,
	})
}

// Event ids are VARBINARY(255): longer ones are refused rather than cut
// short (and made to collide) by a server without strict sql_mode.
func TestAcknowledgeEventIDLength(t *testing.T) {
	ctx := context.Background()
	x := open(t)
	l, err := x.AcquireLease(ctx, "k", "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("e", evento.MaxNameLen+1)
	c := cursor.Encode(cursor.Position{Seq: 1})
	for _, ack := range []evento.Ack{
		{Cursor: c, Park: []*evento.DeadLetter{{EventID: long, Event: []byte("e")}}},
		{Cursor: c, Error: &evento.SubscriptionError{EventID: long}},
	} {
		if err := x.Acknowledge(ctx, l, ack); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("Acknowledge with an oversized event id: err = %v, want ErrInvalidArgument", err)
		}
		if err := x.AcknowledgeTx(ctx, l, ack, func(context.Context) error { return nil }); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("AcknowledgeTx with an oversized event id: err = %v, want ErrInvalidArgument", err)
		}
	}
	ack := evento.Ack{Cursor: c, Error: &evento.SubscriptionError{EventID: long[1:], Message: "\xff\x00not UTF-8"},
		Park: []*evento.DeadLetter{{EventID: long[1:], Event: []byte("e"), Error: "\xff\x00not UTF-8"}}}
	if err := x.Acknowledge(ctx, l, ack); err != nil {
		t.Fatalf("event id of %d bytes: %v", evento.MaxNameLen, err)
	}
	// Messages are stored byte for byte.
	st, err := x.SubscriptionStatus(ctx, "k")
	if err != nil || st.LastError == nil || st.LastError.EventID != long[1:] || st.LastError.Message != "\xff\x00not UTF-8" {
		t.Errorf("status = %+v, %v", st, err)
	}
	if dls, err := x.DeadLetters(ctx, "k", 1); err != nil || len(dls) != 1 || dls[0].Error != "\xff\x00not UTF-8" {
		t.Errorf("DeadLetters = %v, %v", dls, err)
	}
}

// A database made by a build that knew only the first schema version
// upgrades when opened, and so does one whose upgrade stopped after the
// new columns were added: the migration's statements run again.
func TestSchemaUpgradeFromVersion1(t *testing.T) {
	ctx := context.Background()
	for _, interrupted := range []bool{false, true} {
		dsn := freshDatabase(t)
		db := sqlOpen(t, dsn)
		if err := mysql.MigrateTo(ctx, db, "app_", 1); err != nil {
			t.Fatal(err)
		}
		c := cursor.Encode(cursor.Position{Seq: 41})
		if _, err := db.Exec("INSERT INTO app_subscriptions (`key`, owner, epoch, expires_at, `cursor`, `lag`, updated_at)"+
			" VALUES ('k', NULL, 3, 0, ?, 1500, ?)", string(c), time.Now().UnixMicro()); err != nil {
			t.Fatal(err)
		}
		if interrupted {
			if err := mysql.RunMigration(ctx, db, "app_", 2); err != nil {
				t.Fatal(err)
			}
		}

		x := openDSN(t, dsn, mysql.WithTablePrefix("app_"))
		if v, err := x.SchemaVersion(ctx); err != nil || v != (evento.SchemaVersion{Applied: 2, Latest: 2}) {
			t.Fatalf("SchemaVersion = %+v, %v; want 2 of 2", v, err)
		}
		st, err := x.SubscriptionStatus(ctx, "k")
		if err != nil || st.Epoch != 3 || st.Cursor != c || st.Lag != 1500*time.Microsecond || st.LastError != nil {
			t.Fatalf("status after the upgrade = %+v, %v", st, err)
		}
		l, err := x.AcquireLease(ctx, "k", "w", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		ack := evento.Ack{Cursor: cursor.Encode(cursor.Position{Seq: 42}),
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
}
