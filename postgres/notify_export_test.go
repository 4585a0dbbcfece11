package postgres

// NotifyChannel returns the channel that the executor's appends notify and
// its listener listens to, unquoted; "" with WithoutNotify.
func (x *Executor) NotifyChannel() string {
	if x.listener == nil {
		return ""
	}
	return x.listener.channel
}

// ListenerPID returns the server process id of the listener's connection,
// or 0 when it is not listening.
func (x *Executor) ListenerPID() uint32 {
	if x.listener == nil {
		return 0
	}
	return x.listener.pid.Load()
}

// ListenerRunning reports whether the executor's listener goroutine has
// been started and has not returned.
func (x *Executor) ListenerRunning() bool {
	return x.listener != nil && x.listener.bg.running()
}
