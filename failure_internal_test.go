package evento

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// nilErr is an error type whose nil pointer panics in Error.
type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

// A recorded failure starts with the handler's error and names the event
// after it, in MaxErrorLen bytes at most (a long error is cut, not the
// event, and not inside a character); a nil or broken error is written
// out, never raised.
func TestFailureMessage(t *testing.T) {
	e := &Event{ID: ulid.Make(), AggregateType: "bank/Account", AggregateID: "a-1", Name: "MoneyDeposited", Version: 7}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("ledger unavailable"), "ledger unavailable (bank/Account/a-1 MoneyDeposited, version 7)"},
		{"empty", errors.New(""), " (bank/Account/a-1 MoneyDeposited, version 7)"},
		{"nil", nil, "<nil> (bank/Account/a-1 MoneyDeposited, version 7)"},
		{"typed nil", (*nilErr)(nil), "<nil> (bank/Account/a-1 MoneyDeposited, version 7)"},
		{"long", errors.New(strings.Repeat("é", MaxErrorLen)), strings.Repeat("é", (MaxErrorLen-45)/2) + " (bank/Account/a-1 MoneyDeposited, version 7)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := failureMessage(&HandlerError{Key: "k", Event: e, Err: tc.err})
			if got != tc.want {
				t.Errorf("failureMessage = %q, want %q", got, tc.want)
			}
			if !strings.HasSuffix(got, "version 7)") || len(got) > MaxErrorLen || !utf8.ValidString(got) {
				t.Errorf("failureMessage = %q does not name the event", got)
			}
		})
	}
}
