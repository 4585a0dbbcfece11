package evtest

import (
	"context"

	"github.com/eventogo/evento"
)

// Test events of two aggregate types besides the bank's. Their types are
// unexported: they exist only inside the suite's stores.
const (
	counterType = "evtest/Counter"
	noteType    = "evtest/Note"
)

type counterEvent struct{}

func (counterEvent) AggregateType() string { return counterType }

// incremented names its writer and its place in the writer's sequence, so
// that concurrency scenarios can find duplicates and losses.
type incremented struct {
	counterEvent
	By     int
	Writer int
	Seq    int
}

func (incremented) EventName() string { return "Incremented" }

type counterReset struct{ counterEvent }

func (counterReset) EventName() string { return "Reset" }

type noteEvent struct{}

func (noteEvent) AggregateType() string { return noteType }

type noteWritten struct {
	noteEvent
	Text string
}

func (noteWritten) EventName() string { return "NoteWritten" }

// counter is the state of a counter aggregate.
type counter struct {
	Total  int
	Resets int
}

func counterProjection() *evento.Projection[counter] {
	return evento.NewProjection(counterType,
		evento.Apply(func(_ context.Context, ev evento.Typed[incremented], c *counter) error {
			c.Total += ev.Data.By
			return nil
		}),
		evento.Apply(func(_ context.Context, _ evento.Typed[counterReset], c *counter) error {
			c.Total = 0
			c.Resets++
			return nil
		}),
	)
}
