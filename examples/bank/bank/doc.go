// Package bank is the bank domain of the seed library, written the way an
// application using evento would write it: typed events, projections that
// replay them into state, and a command layer that checks the domain rules
// before it commits.
//
// Two aggregates exist. An account ([AccountType]) holds money in one
// currency, can be frozen (no money leaves it) and closed (nothing changes
// any more). An owner ([OwnerType]) is the person an account belongs to.
// [AccountProjection] builds an [Account] from its events, and
// [AccountWithOwnerProjection] combines an account with its owner in one
// state.
//
// [Service] runs the commands. Each loads the current state, checks the
// rule, and commits with the loaded version as the expected version, so a
// concurrent change makes the commit fail with evento.ErrVersionConflict
// instead of overwriting it; the command then reloads and decides again, a
// bounded number of times. Domain refusals are the sentinel errors in
// errors.go, matched with errors.Is.
package bank
