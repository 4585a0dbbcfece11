package cursor

import "fmt"

// Position locates an event in one store's global order.
//
// Stores that number events with a single counter (SQLite, MySQL/MariaDB,
// Pebble) use Seq only and leave Tx zero. PostgreSQL orders events by the
// writing transaction first and the row sequence second, so that the order is
// the order in which transactions became visible; it puts the transaction id
// in Tx. Positions compare Tx first, then Seq.
type Position struct {
	// Tx is the commit-order key of the writing transaction, or zero.
	Tx uint64
	// Seq is the event's sequence number within the store.
	Seq uint64
}

// Compare returns -1, 0 or +1 as p is before, equal to or after q.
func (p Position) Compare(q Position) int {
	switch {
	case p.Tx < q.Tx:
		return -1
	case p.Tx > q.Tx:
		return 1
	case p.Seq < q.Seq:
		return -1
	case p.Seq > q.Seq:
		return 1
	}
	return 0
}

// Less reports whether p is before q.
func (p Position) Less(q Position) bool { return p.Compare(q) < 0 }

// Next returns the smallest position after p, which need not be an event's:
// reading backward before p.Next() includes the event at p.
func (p Position) Next() Position {
	if p.Seq == ^uint64(0) {
		return Position{Tx: p.Tx + 1}
	}
	return Position{Tx: p.Tx, Seq: p.Seq + 1}
}

// IsZero reports whether p is the position before every event.
func (p Position) IsZero() bool { return p == Position{} }

// String formats the position for humans: "42", or "tx:seq" when Tx is set.
func (p Position) String() string {
	if p.Tx == 0 {
		return fmt.Sprint(p.Seq)
	}
	return fmt.Sprintf("%d:%d", p.Tx, p.Seq)
}
