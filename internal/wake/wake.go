// Package wake broadcasts "something changed" to any number of waiters
// without losing a signal between a waiter's check and its wait.
package wake

import "sync"

// Signal is a broadcast channel that is replaced each time it fires. The zero
// value is ready to use.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns the channel that the next Fire closes. Take it before checking
// for work, then wait on it.
func (s *Signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Fire wakes every current waiter.
func (s *Signal) Fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
