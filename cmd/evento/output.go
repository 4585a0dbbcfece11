package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eventogo/evento/cursor"
)

// table writes aligned columns.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	t.row(header...)
	return t
}

// row writes one line. Tabs and line breaks inside a cell would break the
// columns, so they become spaces.
func (t *table) row(cells ...string) {
	for i, cell := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		io.WriteString(t.tw, cellReplacer.Replace(cell))
	}
	io.WriteString(t.tw, "\n")
}

var cellReplacer = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

func (t *table) flush() error { return t.tw.Flush() }

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONLine writes v as one line of JSON, for streams.
func writeJSONLine(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// timeFormat shows timestamps in UTC with the microseconds stores keep.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeFormat)
}

// formatAgo says how long ago t was, or how long until it is, in words a
// table can hold: "12s ago", "in 25s".
func formatAgo(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + roundDuration(-d).String()
	}
	return roundDuration(d).String() + " ago"
}

// roundDuration keeps about three significant digits.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute)
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}

// formatPosition shows where a cursor points: "42", "tx:seq", or "start"
// for the empty cursor.
func formatPosition(v cursor.Value) string {
	if v == "" {
		return "start"
	}
	p, err := cursor.Decode(v)
	if err != nil {
		return string(v)
	}
	return p.String()
}

// positionJSON is the position of a cursor for JSON output: nil for the
// start.
func positionJSON(v cursor.Value) *string {
	if v == "" {
		return nil
	}
	s := formatPosition(v)
	return &s
}

// formatBytes shows a size in binary units.
func formatBytes(n int64) string {
	if n < 0 {
		return "unknown"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// truncate shortens s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if n <= 0 {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
