package postgres

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// scanTestRows selects rows of eventColumns' types from literal values:
// NULL and empty payloads, with and without a routing key and metadata,
// timestamps before and after 2000 and at both ends of timestamptz's
// range, values that repeat from row to row and then change.
func scanTestRows(t *testing.T) (string, []any) {
	t.Helper()
	plain, err := evento.Metadata{ID: "01J0", RequestedBy: "ada", CorrelationID: "c-1"}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	general, err := evento.Metadata{RequestedAs: "ops"}.Set("n", 7).Set("tags", []any{"a", "b"}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	query := `SELECT tx::xid8, seq, id, typ, agg, v, name, key, data, md, ts FROM (VALUES
		(1::text, 1::int8, '0190e4b2-7d3a-7c4e-9a2b-000000000001'::uuid, 'bank/Account'::text, 'a-1'::text, 1::int8, 'Opened'::text, 'eu'::text, '\x7b7d'::bytea, $1::bytea, '2026-11-28 12:00:00.123456+00'::timestamptz),
		('1', 2, '0190e4b2-7d3a-7c4e-9a2b-000000000002', 'bank/Account', 'a-1', 2, 'Deposited', 'eu', NULL, NULL, '1999-12-31 23:59:59.999999+00'),
		('1099511627776', 3, '0190e4b2-7d3a-7c4e-9a2b-000000000003', 'bank/Account', 'a-2', 1, 'Opened', NULL, ''::bytea, $2::bytea, '1970-01-01 00:00:00+00'),
		('18446744073709551615', 9223372036854775807, '0190e4b2-7d3a-7c4e-9a2b-000000000004', 'ledger/Entry', 'é 2', 9223372036854775807, 'Deposited', 'us', '\x00ff'::bytea, ''::bytea, '2300-01-01 00:00:00.000001+00'),
		('1', 5, '0190e4b2-7d3a-7c4e-9a2b-000000000005', 'bank/Account', 'a-1', 3, 'Opened', 'eu', '\x01'::bytea, $1::bytea, '2026-11-28 12:00:00+00'),
		('2', 6, '0190e4b2-7d3a-7c4e-9a2b-000000000006', 'bank/Account', 'a-1', 4, 'Opened', 'eu', NULL, NULL, '294276-12-31 23:59:59.999999+00'),
		('2', 7, '0190e4b2-7d3a-7c4e-9a2b-000000000007', 'bank/Account', 'a-1', 5, 'Opened', 'eu', NULL, NULL, '4713-01-01 00:00:00+00 BC')
	) AS r (tx, seq, id, typ, agg, v, name, key, data, md, ts) ORDER BY seq`
	return query, []any{plain, general}
}

// The binary decoder reads every row as rows.Scan does (scanEvent), and is
// used only where the rows come in binary form.
func TestRowDecoderMatchesScan(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.DSN("EVENTO_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	query, args := scanTestRows(t)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe,
		pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				t.Fatal(err)
			}
			cfg.DefaultQueryExecMode = mode
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				testenv.Unavailable(t, "PostgreSQL (EVENTO_POSTGRES_DSN)", err)
			}
			defer conn.Close(ctx)
			read := func(decoder bool) (decoded bool, events []*evento.Event) {
				rows, err := conn.Query(ctx, query, args...)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var d rowDecoder
				for rows.Next() {
					var e *evento.Event
					if decoder && decodable(rows.FieldDescriptions()) {
						decoded = true
						e, err = d.decode(rows.RawValues())
					} else {
						e, err = scanEvent(rows)
					}
					if err != nil {
						t.Fatal(err)
					}
					events = append(events, e)
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				return decoded, events
			}
			decoded, got := read(true)
			_, want := read(false)
			if len(want) != 7 {
				t.Fatalf("scanned %d rows, want 7", len(want))
			}
			if binary := mode != pgx.QueryExecModeSimpleProtocol && mode != pgx.QueryExecModeExec; decoded != binary {
				t.Errorf("decoded in binary: %v, want %v", decoded, binary)
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("row %d:\n decoded %+v\n scanned %+v", i, got[i], want[i])
				}
			}
			if want[1].Data != nil || want[2].Data == nil || len(want[2].Data) != 0 || want[2].RoutingKey != "" ||
				!want[1].Timestamp.Equal(time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)) {
				t.Errorf("the rows are not the ones the test means: %+v", want)
			}
		})
	}
}

// A row the decoder cannot read is an error, never a panic or an event of
// zero values.
func TestRowDecoderRefusesMalformedRows(t *testing.T) {
	good := func() [][]byte {
		return [][]byte{make([]byte, 8), make([]byte, 8), make([]byte, 16), []byte("t"), []byte("a"), make([]byte, 8),
			[]byte("n"), nil, nil, nil, make([]byte, 8)}
	}
	var d rowDecoder
	if _, err := d.decode(good()); err != nil {
		t.Fatalf("well-formed row: %v", err)
	}
	for name, change := range map[string]func(r [][]byte) [][]byte{
		"too few columns":     func(r [][]byte) [][]byte { return r[:10] },
		"short position":      func(r [][]byte) [][]byte { r[0] = r[0][:4]; return r },
		"NULL sequence":       func(r [][]byte) [][]byte { r[1] = nil; return r },
		"short id":            func(r [][]byte) [][]byte { r[2] = r[2][:15]; return r },
		"NULL aggregate type": func(r [][]byte) [][]byte { r[3] = nil; return r },
		"NULL aggregate id":   func(r [][]byte) [][]byte { r[4] = nil; return r },
		"NULL name":           func(r [][]byte) [][]byte { r[6] = nil; return r },
		"infinite timestamp":  func(r [][]byte) [][]byte { r[10] = []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; return r },
		"bad metadata":        func(r [][]byte) [][]byte { r[9] = []byte{0xff}; return r },
	} {
		if e, err := d.decode(change(good())); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, e)
		}
	}
}
