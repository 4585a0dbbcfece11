package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/eventogo/evento"
	"github.com/eventogo/evento/cursor"
)

// reset is `evento subscriptions reset`.
type reset struct {
	key    string
	to     string
	force  bool
	follow bool
	idle   time.Duration
	poll   time.Duration
}

// resetView is a reset's outcome in JSON.
type resetView struct {
	Key          string       `json:"key"`
	Cursor       cursor.Value `json:"cursor"`
	Position     *string      `json:"position"`
	Forced       bool         `json:"forced"`
	ReplayEvents int64        `json:"replay_events"`
	// Followed, CaughtUp and Replayed report the --follow phase.
	Followed bool  `json:"followed"`
	CaughtUp bool  `json:"caught_up,omitempty"`
	Replayed int64 `json:"replayed,omitempty"`
}

func (r *reset) run(ctx context.Context, c *cli) error {
	exec, done, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer done()
	return r.apply(ctx, c, exec)
}

func (r *reset) apply(ctx context.Context, c *cli, exec evento.Executor) error {
	to, err := r.target(ctx, exec)
	if err != nil {
		return err
	}
	if err := evento.ResetSubscription(ctx, exec, r.key, to, r.force); err != nil {
		switch {
		case errors.Is(err, evento.ErrUnsupported):
			return wrap(exitUnsupported, err).
				hint("this store cannot break a lease: stop the subscription's workers, or wait for their lease to expire, and reset without --force")
		case errors.Is(err, evento.ErrLeaseHeld):
			return wrap(exitLeaseHeld, err).
				hint("stop the subscription's workers, wait for the lease to expire, or pass --force to take it from the worker")
		case errors.Is(err, evento.ErrNotFound):
			return subscriptionError(err)
		}
		return err
	}
	total, err := countAfter(ctx, exec, to)
	if err != nil {
		return err
	}
	c.log.DebugContext(ctx, "subscription reset", "key", r.key, "position", formatPosition(to), "forced", r.force)
	out := resetView{Key: r.key, Cursor: to, Position: positionJSON(to), Forced: r.force, ReplayEvents: total}
	if !c.json() {
		fmt.Fprintf(c.stdout, "subscription %s reset to %s: %d events to replay\n", r.key, formatPosition(to), total)
	}
	if r.follow {
		out.Followed = true
		out.Replayed, out.CaughtUp, err = r.progress(ctx, c, exec, to, total)
		if err != nil {
			return err
		}
	}
	if c.json() {
		return writeJSON(c.stdout, out)
	}
	return nil
}

// target resolves --to into a cursor.
func (r *reset) target(ctx context.Context, exec evento.Executor) (cursor.Value, error) {
	switch r.to {
	case "start", "":
		return "", nil
	case "end":
		page, err := exec.Read(ctx, evento.Query{Args: cursor.Backward(1, "")})
		if err != nil {
			return "", readError(err)
		}
		return page.PageInfo.EndCursor, nil
	}
	return parseCursor("--to", r.to)
}

// progress draws a progress bar on standard error while the subscription
// replays: the events between the reset cursor and the subscription's
// cursor, out of the total the log held after the reset cursor. It returns
// when the subscription has caught up, when its cursor has not moved for
// r.idle, or when ctx ends, and reports how many events were replayed and
// whether it caught up.
func (r *reset) progress(ctx context.Context, c *cli, exec evento.Executor, from cursor.Value, total int64) (int64, bool, error) {
	bar := progressBar{w: c.stderr, total: total}
	var (
		last  cursor.Value = from
		moved              = time.Now()
		done  int64
	)
	tick := time.NewTicker(r.poll)
	defer tick.Stop()
	for {
		st, err := exec.SubscriptionStatus(ctx, r.key)
		if err != nil {
			if ctx.Err() != nil {
				bar.end("interrupted")
				return done, false, nil
			}
			return done, false, err
		}
		// Events after from minus events after the cursor: the events the
		// subscription got through, whatever was appended meanwhile.
		fromCount, err := countAfter(ctx, exec, from)
		if err == nil {
			var cursorCount int64
			cursorCount, err = countAfter(ctx, exec, st.Cursor)
			done = min(max(fromCount-cursorCount, 0), total)
		}
		if err != nil {
			if ctx.Err() != nil {
				bar.end("interrupted")
				return done, false, nil
			}
			return done, false, err
		}
		bar.draw(done)
		if done >= total {
			bar.end("caught up")
			return done, true, nil
		}
		if st.Cursor != last {
			last, moved = st.Cursor, time.Now()
		} else if time.Since(moved) >= r.idle {
			bar.end(fmt.Sprintf("the cursor has not moved for %v: is a worker running? (the remaining events may not be the subscription's)", r.idle))
			return done, false, nil
		}
		select {
		case <-ctx.Done():
			bar.end("interrupted")
			return done, false, nil
		case <-tick.C:
		}
	}
}

// progressBar draws "[#####-----]  50%  500/1000 events" on one line,
// redrawn in place.
type progressBar struct {
	w     io.Writer
	total int64
	drawn string
}

const barWidth = 30

func (b *progressBar) draw(done int64) {
	frac := 1.0
	if b.total > 0 {
		frac = float64(done) / float64(b.total)
	}
	filled := int(frac * barWidth)
	s := fmt.Sprintf("[%s%s] %3.0f%%  %d/%d events", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled),
		frac*100, done, b.total)
	if s != b.drawn {
		fmt.Fprintf(b.w, "\r%s", s)
		b.drawn = s
	}
}

func (b *progressBar) end(msg string) { fmt.Fprintf(b.w, "\n%s\n", msg) }
