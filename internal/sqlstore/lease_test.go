package sqlstore

import (
	"errors"
	"testing"

	"github.com/eventogo/evento"
)

func TestCheckAck(t *testing.T) {
	ok := &evento.DeadLetter{EventID: "A", Event: []byte{}}
	if err := CheckAck(evento.Ack{Park: []*evento.DeadLetter{ok}}); err != nil {
		t.Errorf("CheckAck of a dead letter with an empty event: %v", err)
	}
	for _, dl := range []*evento.DeadLetter{nil, {Event: []byte("e")}, {EventID: "A"}} {
		if err := CheckAck(evento.Ack{Park: []*evento.DeadLetter{ok, dl}}); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("CheckAck(%+v) = %v, want ErrInvalidArgument", dl, err)
		}
	}
}

func TestCheckDeadLetterLimit(t *testing.T) {
	for _, n := range []int{1, MaxDeadLetters} {
		if err := CheckDeadLetterLimit(n); err != nil {
			t.Errorf("CheckDeadLetterLimit(%d) = %v", n, err)
		}
	}
	for _, n := range []int{0, -1, MaxDeadLetters + 1} {
		if err := CheckDeadLetterLimit(n); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("CheckDeadLetterLimit(%d) = %v, want ErrInvalidArgument", n, err)
		}
	}
}

func TestStatusColumns(t *testing.T) {
	const want = "`owner`, `epoch`, `expires_at`, `cursor`, `lag`, `updated_at`," +
		" `error_event_id`, `error_message`, `error_at`, `error_fatal`"
	if got := StatusColumns(Dialect{IdentQuote: '`'}); got != want {
		t.Errorf("StatusColumns = %s, want %s", got, want)
	}
}
