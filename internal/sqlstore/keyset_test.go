package sqlstore

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// txKeyset is a two-column keyset with casts and a bound, as PostgreSQL
// uses it.
var txKeyset = Keyset{
	Columns: []string{"tx_id", "seq"},
	Casts:   []string{"::xid8", ""},
	Bound:   "tx_id < horizon()",
	Values: func(p cursor.Position) ([]any, error) {
		if p.Tx == 0 {
			return nil, fmt.Errorf("%w: no transaction part", cursor.ErrInvalid)
		}
		return []any{p.Tx, int64(p.Seq)}, nil
	},
}

func TestKeysetStatement(t *testing.T) {
	d := Dialect{Placeholders: DollarNumbers}
	at := cursor.Encode(cursor.Position{Tx: 900, Seq: 42})
	for _, tc := range []struct {
		name string
		q    evento.Query
		want string
		args []any
	}{
		{
			name: "everything",
			want: "H WHERE tx_id < horizon() ORDER BY tx_id ASC, seq ASC LIMIT $1",
			args: []any{int64(cursor.DefaultLimit + 1)},
		},
		{
			name: "filter and routing key, forward after a cursor",
			q: evento.Query{
				Filters:    []evento.Filter{{AggregateType: "A", AggregateID: "1"}},
				RoutingKey: evento.RoutingKeyOf("eu"),
				Args:       cursor.Forward(10, at),
			},
			want: "H WHERE ((aggregate_type = $1 AND aggregate_id = $2)) AND routing_key = $3 AND tx_id < horizon()" +
				" AND (tx_id, seq) > ($4::xid8, $5) ORDER BY tx_id ASC, seq ASC LIMIT $6",
			args: []any{"A", "1", "eu", uint64(900), int64(42), int64(11)},
		},
		{
			name: "backward before a cursor",
			q:    evento.Query{Args: cursor.Backward(5, at)},
			want: "H WHERE tx_id < horizon() AND (tx_id, seq) < ($1::xid8, $2) ORDER BY tx_id DESC, seq DESC LIMIT $3",
			args: []any{uint64(900), int64(42), int64(6)},
		},
	} {
		got, args, err := txKeyset.Statement(d, "H", &tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
		if !reflect.DeepEqual(args, tc.args) {
			t.Errorf("%s: args %#v, want %#v", tc.name, args, tc.args)
		}
	}
	bad := evento.Query{Args: cursor.Forward(1, cursor.Encode(cursor.Position{Seq: 3}))}
	if _, _, err := txKeyset.Statement(d, "H", &bad); !errors.Is(err, cursor.ErrInvalid) {
		t.Errorf("cursor the keyset refuses: err = %v, want cursor.ErrInvalid", err)
	}
}
