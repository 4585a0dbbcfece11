// Package evtest is the conformance suite every evento executor passes, in
// the spirit of testing/fstest: an executor's test file proves the whole
// contract with one call.
//
//	func TestConformance(t *testing.T) {
//		evtest.Run(t, func(t *testing.T) evento.Executor {
//			exec, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "events.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { exec.Close() })
//			return exec
//		}, evtest.Features{})
//	}
//
// Every scenario is a subtest that gets a fresh, empty executor from the
// factory, so scenarios never see each other's events. [Features] tells
// the suite what the executor supports; scenarios that need a missing
// feature skip with a message instead of failing.
//
// The scenarios cover the semantics every executor must keep: the bank
// domain end to end, routing keys, loading over several aggregates and
// through many pages, snapshots, optimistic concurrency, versions beyond 16
// bits, cursor pagination both ways against the in-memory reference
// [cursor.Paginate], subscriptions and their leases, concurrent writers
// with a subscriber that must miss nothing, and input that must be refused.
package evtest

import (
	"testing"
	"time"

	"github.com/eventogo/evento"
)

// Features declares what an executor supports and how hard the suite may
// push it. The zero value runs every scenario that needs a single executor
// at full size.
type Features struct {
	// Shared returns two executors over the same storage, as two
	// processes would open it, each registering its own cleanup. Nil
	// skips the scenarios that check cross-process behaviour.
	Shared func(t *testing.T) (a, b evento.Executor)

	// SkipLongConcurrency skips the concurrency scenarios with many
	// writers, for stores too slow to run them in a test.
	SkipLongConcurrency bool

	// Writers is the number of concurrent writers of the concurrency
	// scenarios; zero means 8.
	Writers int

	// CommitsPerWriter is the number of commits each concurrent writer
	// makes; zero means 200.
	CommitsPerWriter int

	// Timeout bounds how long a scenario waits for something asynchronous,
	// such as a subscription catching up. It is a deadline for hangs, not a
	// speed requirement; zero means 2 minutes.
	Timeout time.Duration
}

func (f Features) withDefaults() Features {
	if f.Writers <= 0 {
		f.Writers = 8
	}
	if f.CommitsPerWriter <= 0 {
		f.CommitsPerWriter = 200
	}
	if f.Timeout <= 0 {
		f.Timeout = 2 * time.Minute
	}
	return f
}

// scenario is one subtest of the suite.
type scenario struct {
	name string
	run  func(t *testing.T, h *harness)
}

// Run runs every scenario as a subtest of t, grouped by theme. Each
// scenario calls newExecutor for a fresh, empty executor; newExecutor must
// register the executor's cleanup with t.Cleanup and fail t if it cannot
// open one.
func Run(t *testing.T, newExecutor func(t *testing.T) evento.Executor, f Features) {
	h := &harness{newExecutor: newExecutor, f: f.withDefaults()}
	groups := []struct {
		name      string
		scenarios []scenario
	}{
		{"Bank", bankScenarios},
		{"Append", appendScenarios},
		{"RoutingKey", routingScenarios},
		{"Load", loadScenarios},
		{"Snapshot", snapshotScenarios},
		{"Conflict", conflictScenarios},
		{"Pagination", paginationScenarios},
		{"Subscription", subscriptionScenarios},
		{"Production", productionScenarios},
		{"Lease", leaseScenarios},
		{"Concurrency", concurrencyScenarios},
		{"BadInput", badInputScenarios},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, s := range g.scenarios {
				t.Run(s.name, func(t *testing.T) { s.run(t, h) })
			}
		})
	}
}

// harness hands scenarios their executors and the declared features.
type harness struct {
	newExecutor func(t *testing.T) evento.Executor
	f           Features
}

// open returns a store over a fresh executor, and the executor.
func (h *harness) open(t *testing.T) (*evento.Store, evento.Executor) {
	t.Helper()
	exec := h.newExecutor(t)
	if exec == nil {
		t.Fatal("evtest: newExecutor returned nil")
	}
	return evento.New(exec), exec
}

// shared returns two executors over the same fresh storage, or skips t.
func (h *harness) shared(t *testing.T) (a, b evento.Executor) {
	t.Helper()
	if h.f.Shared == nil {
		t.Skip("evtest: Features.Shared is nil: the executor does not declare shared storage")
	}
	a, b = h.f.Shared(t)
	if a == nil || b == nil {
		t.Fatal("evtest: Features.Shared returned a nil executor")
	}
	return a, b
}

// long skips t when the executor declared the long scenarios too slow.
func (h *harness) long(t *testing.T) {
	t.Helper()
	if h.f.SkipLongConcurrency {
		t.Skip("evtest: Features.SkipLongConcurrency is set")
	}
}
