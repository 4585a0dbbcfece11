package pebble

import "sync"

// queue hands items from any number of goroutines to one consumer, which
// takes everything queued since its last turn: the batching step of group
// commit.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	closed bool
	// ready holds a token when items may have grown or the queue closed.
	ready chan struct{}
}

func newQueue[T any]() *queue[T] { return &queue[T]{ready: make(chan struct{}, 1)} }

// push queues x, and reports false, queuing nothing, once the queue is
// closed.
func (q *queue[T]) push(x T) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, x)
	q.mu.Unlock()
	q.signal()
	return true
}

// close makes push refuse new items; take still returns those queued.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *queue[T]) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take waits for queued items and removes the oldest ones: all of them, or
// as many as count (at least one) says. It reports false once the queue is
// closed and empty.
func (q *queue[T]) take(count func([]T) int) ([]T, bool) {
	for {
		q.mu.Lock()
		if n := len(q.items); n > 0 {
			if count != nil {
				n = max(1, min(n, count(q.items)))
			}
			taken := q.items[:n:n]
			if n == len(q.items) {
				q.items = nil
			} else {
				q.items = append([]T(nil), q.items[n:]...)
			}
			q.mu.Unlock()
			return taken, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, false
		}
		<-q.ready
	}
}
