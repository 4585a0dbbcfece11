package evento

import "context"

type dataKey[T any] struct{}

// WithData returns a context that carries v, for handlers to fetch with
// DataFrom. Pass the context to Load, Execute or Start to share, say, a
// database handle or a clock with every handler. Values are keyed by their
// static type T.
func WithData[T any](ctx context.Context, v T) context.Context {
	return context.WithValue(ctx, dataKey[T]{}, v)
}

// DataFrom returns the value of type T that WithData put in ctx.
func DataFrom[T any](ctx context.Context) (T, bool) {
	v, ok := ctx.Value(dataKey[T]{}).(T)
	return v, ok
}
