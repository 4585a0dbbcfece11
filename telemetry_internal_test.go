package evento

import (
	"context"
	"testing"
	"time"
)

// Telemetry that is off (no provider given) costs no allocation on any
// instrumented path: no context, span, attribute or option is made.
func TestTelemetryOffAllocatesNothing(t *testing.T) {
	var tel telemetry
	ctx := context.Background()
	e := &Event{AggregateType: "t", AggregateID: "id", Name: "n", Version: 1}
	q := &Query{Filters: []Filter{{AggregateType: "t"}}}
	allocs := testing.AllocsPerRun(1000, func() {
		actx, op := tel.startAppend(ctx, "t", "id", 0, 1)
		op.end(actx, nil)
		_, load := tel.startLoad(ctx, "t", "id")
		endLoad(load, 1, false, 1, nil)
		_, read := tel.startRead(ctx, q)
		endRead(read, 1, nil)
		hctx, h := tel.startHandle(ctx, "key", e)
		began := h.attempt()
		h.called(hctx, began, nil)
		h.end(nil)
		tel.recordLag(ctx, "key", time.Second)
	})
	if allocs != 0 {
		t.Errorf("telemetry off: %v allocations per operation set, want 0", allocs)
	}
}
