package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
	"github.com/eventogo/evento/stores"
)

// Exit codes. Scripts may rely on them; `evento help` documents them.
const (
	exitOK          = 0
	exitRuntime     = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitLeaseHeld   = 4
	exitUnsupported = 5
)

// cliError is an error with the exit code it ends the process with and a
// hint that says what to do about it.
type cliError struct {
	code int
	err  error
	tip  string
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// hint sets the advice printed under the error.
func (e *cliError) hint(format string, args ...any) *cliError {
	e.tip = fmt.Sprintf(format, args...)
	return e
}

func wrap(code int, err error) *cliError { return &cliError{code: code, err: err} }

func usageErrorf(format string, args ...any) *cliError {
	return wrap(exitUsage, fmt.Errorf(format, args...))
}

// report prints err and its hint to standard error and returns the exit
// code. Errors that carry no code of their own are classified by the
// sentinels they wrap.
func (c *cli) report(err error) int {
	var ce *cliError
	if !errors.As(err, &ce) {
		ce = classify(err)
	}
	// Library errors already start with "evento: ".
	msg := err.Error()
	if !strings.HasPrefix(msg, "evento: ") {
		msg = "evento: " + msg
	}
	fmt.Fprintln(c.stderr, msg)
	if ce.tip != "" {
		fmt.Fprintf(c.stderr, "  %s\n", ce.tip)
	}
	return ce.code
}

// classify gives an error that no command classified its exit code and a
// generic hint.
func classify(err error) *cliError {
	switch {
	case errors.Is(err, evento.ErrLeaseHeld):
		return wrap(exitLeaseHeld, err).hint("a live worker holds the lease: stop it, wait for the lease to expire, or pass --force")
	case errors.Is(err, evento.ErrUnsupported):
		return wrap(exitUnsupported, err).hint("this store does not offer that operation")
	case errors.Is(err, evento.ErrNotFound), errors.Is(err, stores.ErrNoStore):
		return wrap(exitNotFound, err)
	case errors.Is(err, cursor.ErrInvalid):
		return wrap(exitUsage, err).hint("pass a cursor or a position that 'evento events' printed for this store")
	case errors.Is(err, cursor.ErrInvalidArgs), errors.Is(err, evento.ErrInvalidArgument):
		return wrap(exitUsage, err)
	case errors.Is(err, context.Canceled):
		return wrap(exitRuntime, err).hint("interrupted")
	}
	return wrap(exitRuntime, err)
}
