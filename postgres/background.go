package postgres

import (
	"context"
	"sync"
	"sync/atomic"
)

// background is a goroutine started on first use and stopped for good by
// stop: the lifecycle the listener and the notifier share.
type background struct {
	started atomic.Bool // set by the first start, or by stop; never reset

	mu     sync.Mutex
	closed bool
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs run in a goroutine unless one was started already or stop
// was called. run must return once its context ends.
func (b *background) start(run func(ctx context.Context)) {
	if b.started.Load() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.started.Load() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done = cancel, make(chan struct{})
	b.started.Store(true)
	go func() {
		defer close(b.done)
		run(ctx)
	}()
}

// stop cancels the goroutine, if it was started, and waits for it to
// return; start does nothing afterwards.
func (b *background) stop() {
	b.mu.Lock()
	b.closed = true
	b.started.Store(true)
	cancel, done := b.cancel, b.done
	b.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// running reports whether the goroutine was started and has not returned.
func (b *background) running() bool {
	b.mu.Lock()
	done := b.done
	b.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}
