package sqlstore

import (
	"testing"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// The merged union (PostgreSQL's form): whole rows, UNION ALL, a filter
// leaving out the earlier filters it overlaps, placeholders numbered on
// across the reads, a filter of one aggregate paged by version.
func TestUnionStatementMerge(t *testing.T) {
	k := Keyset{
		Columns: []string{"tx_id", "seq"},
		Casts:   []string{"::xid8", ""},
		Bound:   "tx_id < horizon()",
		Values:  func(p cursor.Position) ([]any, error) { return []any{p.Tx, int64(p.Seq)}, nil },
	}
	u := Union{Columns: "tx_id, seq, data", Table: "ev", ByVersion: true, Merge: true}
	q := evento.Query{
		Filters: []evento.Filter{
			{AggregateType: "A"},
			{AggregateType: "B", Name: "N"},
			{AggregateType: "A", Name: "M"},        // within the first
			{AggregateType: "B", AggregateID: "1"}, // may share the second's events
			{AggregateType: "B", Name: "O"},        // not the second's
		},
		Args: cursor.Forward(2, cursor.Encode(cursor.Position{Tx: 7, Seq: 3})),
	}
	read := func(where string) string {
		return "(SELECT tx_id, seq, data FROM ev WHERE " + where + " ORDER BY tx_id ASC, seq ASC LIMIT "
	}
	checkStatement(t, "merge", "SELECT tx_id, seq, data FROM ("+
		read("((aggregate_type = $1)) AND tx_id < horizon() AND (tx_id, seq) > ($2::xid8, $3)")+"$4)"+
		" UNION ALL "+read("((aggregate_type = $5 AND name = $6)) AND tx_id < horizon() AND (tx_id, seq) > ($7::xid8, $8)")+"$9)"+
		" UNION ALL "+read("((aggregate_type = $10 AND name = $11)) AND NOT ((aggregate_type = $12)) AND tx_id < horizon() AND (tx_id, seq) > ($13::xid8, $14)")+"$15)"+
		" UNION ALL (SELECT tx_id, seq, data FROM ev WHERE ((aggregate_type = $16 AND aggregate_id = $17)) AND NOT ((aggregate_type = $18 AND name = $19))"+
		" AND tx_id < horizon() AND version > COALESCE((SELECT version FROM ev WHERE tx_id = $20::xid8 AND seq = $21 AND aggregate_type = $22 AND aggregate_id = $23),"+
		" (WITH RECURSIVE search (lo, hi, c) AS (SELECT lo, hi,"+
		" (SELECT (tx_id, seq) <= ($24::xid8, $25) FROM ev WHERE aggregate_type = $26 AND aggregate_id = $27 AND version = (lo + hi + 1) / 2)"+
		" FROM (SELECT CAST(0 AS BIGINT) AS lo,"+
		" COALESCE((SELECT version FROM ev WHERE aggregate_type = $28 AND aggregate_id = $29 ORDER BY version DESC LIMIT 1), 0) AS hi) AS start"+
		" UNION ALL SELECT"+
		" CASE c WHEN TRUE THEN (lo + hi + 1) / 2 WHEN FALSE THEN lo END,"+
		" CASE c WHEN TRUE THEN hi WHEN FALSE THEN (lo + hi + 1) / 2 - 1 END,"+
		" (SELECT (tx_id, seq) <= ($30::xid8, $31) FROM ev WHERE aggregate_type = $32 AND aggregate_id = $33 AND version ="+
		" CASE c WHEN TRUE THEN ((lo + hi + 1) / 2 + hi + 1) / 2 WHEN FALSE THEN (lo + (lo + hi + 1) / 2) / 2 END)"+
		" FROM search WHERE lo < hi) SELECT lo FROM search WHERE lo = hi),"+
		" (SELECT MAX(version) FROM ev WHERE aggregate_type = $34 AND aggregate_id = $35 AND (tx_id, seq) <= ($36::xid8, $37)), 0) ORDER BY version ASC LIMIT $38)"+
		" UNION ALL "+read("((aggregate_type = $39 AND name = $40)) AND NOT ((aggregate_type = $41 AND aggregate_id = $42)) AND tx_id < horizon() AND (tx_id, seq) > ($43::xid8, $44)")+"$45)"+
		") AS u ORDER BY tx_id ASC, seq ASC LIMIT $46",
		[]any{
			"A", uint64(7), int64(3), int64(3),
			"B", "N", uint64(7), int64(3), int64(3),
			"A", "M", "A", uint64(7), int64(3), int64(3),
			"B", "1", "B", "N", uint64(7), int64(3), "B", "1",
			uint64(7), int64(3), "B", "1", "B", "1", uint64(7), int64(3), "B", "1", // the search
			"B", "1", uint64(7), int64(3), int64(3),
			"B", "O", "B", "1", uint64(7), int64(3), int64(3),
			int64(3),
		})(k.UnionStatement(Dialect{Placeholders: DollarNumbers}, u, &q))
}
