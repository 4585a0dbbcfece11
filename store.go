package evento

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/eventogo/evento/codec"
	"github.com/eventogo/evento/cursor"
)

// DefaultMaxPayloadSize is the largest encoded payload a Store appends unless
// WithMaxPayloadSize says otherwise.
const DefaultMaxPayloadSize = 1 << 20

// Store is the user API over an [Executor]: it builds commits, decodes
// payloads with its codec, loads projections and runs subscriptions. A Store
// is safe for concurrent use; create one per executor and share it.
type Store struct {
	exec       Executor
	codec      codec.Codec
	maxPayload int
	logger     *slog.Logger
	tel        telemetry
}

// Option configures a Store.
type Option func(*Store)

// WithCodec sets the payload codec. The default is codec.CBOR(). Every
// process that reads the store must use the codec its writers used.
func WithCodec(c codec.Codec) Option { return func(s *Store) { s.codec = c } }

// WithMaxPayloadSize caps the encoded size of one event payload; appends of a
// larger payload fail with ErrPayloadTooLarge. n <= 0 keeps the default.
func WithMaxPayloadSize(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.maxPayload = n
		}
	}
}

// WithLogger sets the logger the store reports to: subscription leases,
// retries and failures, acknowledgements (at debug level), snapshots that
// cannot be saved. The default discards everything.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.logger = l } }

// New returns a Store over exec.
func New(exec Executor, opts ...Option) *Store {
	s := &Store{
		exec:       exec,
		codec:      codec.CBOR(),
		maxPayload: DefaultMaxPayloadSize,
		logger:     slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Executor returns the executor the store runs on.
func (s *Store) Executor() Executor { return s.exec }

// Codec returns the store's payload codec.
func (s *Store) Codec() codec.Codec { return s.codec }

// Read returns one page of events matching q, in global order.
func (s *Store) Read(ctx context.Context, q Query) (*cursor.Page[*Event], error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	ctx, span := s.tel.startRead(ctx, &q)
	page, err := s.exec.Read(ctx, q)
	if span != nil {
		n := 0
		if page != nil {
			n = len(page.Edges)
		}
		endRead(span, n, err)
	}
	return page, err
}

// Decode decodes e's payload into v, with an error that names the event.
func (s *Store) Decode(e *Event, v any) error {
	if err := s.codec.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("%w: %s event %s/%s %s (id %s, version %d): %v",
			ErrDecode, s.codec.Name(), e.AggregateType, e.AggregateID, e.Name, e.ID, e.Version, err)
	}
	return nil
}

// HasEvent reports whether the aggregate id (of E's aggregate type) has at
// least one event of type E.
func HasEvent[E EventData](ctx context.Context, s *Store, id string) (bool, error) {
	if err := checkName("aggregate id", id); err != nil {
		return false, err
	}
	var zero E
	page, err := s.Read(ctx, Query{
		Filters: []Filter{{AggregateType: zero.AggregateType(), AggregateID: id, Name: zero.EventName()}},
		Args:    cursor.Forward(1, ""),
	})
	if err != nil {
		return false, err
	}
	return len(page.Edges) > 0, nil
}
