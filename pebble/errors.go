package pebble

import "errors"

// ErrClosed is returned by every call on an [Executor] after Close.
var ErrClosed = errors.New("evento/pebble: executor closed")

// errCorrupt is wrapped by errors that report a key or record the executor
// cannot have written: a damaged or foreign directory.
var errCorrupt = errors.New("evento/pebble: corrupt data")
