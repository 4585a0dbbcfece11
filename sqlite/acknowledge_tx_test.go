package sqlite

import (
	"context"
	"testing"

	"github.com/eventogo/evento"
)

// AcknowledgeTx with a nil fn acknowledges, as on the other SQL stores.
func TestAcknowledgeTxNilFn(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	l, err := x.AcquireLease(ctx, "k", "w", 60e9)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("AcknowledgeTx(nil fn) panicked: %v", p)
		}
	}()
	if err := x.AcknowledgeTx(ctx, l, evento.Ack{Cursor: "x"}, nil); err != nil {
		t.Fatal(err)
	}
}
