package evento

import "errors"

// Sentinel errors. Callers branch on them with errors.Is; the errors actually
// returned wrap them with the details of the failed call.
var (
	// ErrVersionConflict reports that the aggregate's current version is not
	// the version the commit expected: another writer got there first, or the
	// caller's state is stale. Nothing of the commit was written.
	ErrVersionConflict = errors.New("evento: version conflict")

	// ErrAlreadyAppended reports that the commit's events are already stored:
	// a retry of a commit whose first attempt succeeded. Nothing was written
	// twice; callers usually treat it as success.
	ErrAlreadyAppended = errors.New("evento: commit already appended")

	// ErrNotFound reports a missing aggregate, snapshot or subscription.
	ErrNotFound = errors.New("evento: not found")

	// ErrNoEvents reports a commit with no events.
	ErrNoEvents = errors.New("evento: commit has no events")

	// ErrPayloadTooLarge reports an event payload above the store's limit.
	ErrPayloadTooLarge = errors.New("evento: payload too large")

	// ErrInvalidArgument reports input that can never succeed: an empty or
	// oversized name, mixed aggregates in one commit, a bad option value.
	ErrInvalidArgument = errors.New("evento: invalid argument")

	// ErrUnhandledEvent reports, in safety mode, an event that no handler and
	// no skip covers.
	ErrUnhandledEvent = errors.New("evento: no handler for event")

	// ErrDecode reports a payload or snapshot that the codec could not decode.
	ErrDecode = errors.New("evento: cannot decode payload")

	// ErrLeaseHeld reports that another live worker holds the subscription's
	// lease.
	ErrLeaseHeld = errors.New("evento: subscription lease held by another worker")

	// ErrLeaseLost reports that the caller's lease was taken over (its epoch
	// moved on) or released; the caller must stop processing and must not
	// move the cursor.
	ErrLeaseLost = errors.New("evento: subscription lease lost")

	// ErrUnsupported reports an operation the executor does not offer: one
	// of the optional interfaces of admin.go that it does not implement.
	ErrUnsupported = errors.New("evento: not supported by this store")
)
