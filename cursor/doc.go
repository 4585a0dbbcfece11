// Package cursor implements keyset (cursor) pagination over a store's global
// order of events.
//
// A store orders every event it holds by a [Position]. Readers ask for a page
// with [Args]: the first N items after a cursor (forward) or the last N items
// before a cursor (backward). The answer is a [Page] whose edges carry opaque
// cursors and whose [PageInfo] says whether more items exist in the direction
// of travel.
//
// Cursors are URL-safe strings. They are meant to be handed to clients and
// read back later, so decoding never panics: a malformed, truncated or foreign
// cursor yields an error that matches [ErrInvalid].
//
// [Paginate] applies the exact paging semantics of the stores to an in-memory
// slice. Tests use it as the reference the stores are checked against, and
// composite stores use it to page merged results.
package cursor
