package mysql

import (
	"slices"
	"testing"
)

// rowsOf returns the encoded rows of a commit split into statements of
// the given event counts, each event taking size bytes.
func rowsOf(size int, statements ...int) eventRows {
	var r eventRows
	n := 0
	for _, k := range statements {
		n += k
		r.ends = append(r.ends, n)
		r.sizes = append(r.sizes, k*size)
	}
	r.timestamps = make([]int64, n)
	r.args = make([]any, n*eventInsertColumns)
	return r
}

// The rows of several commits join into as few statements as the size and
// row limits allow, keeping the split of a commit that needed several.
func TestMergeRows(t *testing.T) {
	for _, tc := range []struct {
		name        string
		parts       []eventRows
		max         int
		ends, sizes []int
	}{
		{"one statement", []eventRows{rowsOf(10, 1), rowsOf(10, 3), rowsOf(10, 2)}, 1000, []int{6}, []int{60}},
		{"bytes", []eventRows{rowsOf(10, 4), rowsOf(10, 4), rowsOf(10, 4)}, 80, []int{8, 12}, []int{80, 40}},
		{"split commit", []eventRows{rowsOf(10, 2), rowsOf(10, 5, 5), rowsOf(10, 1)}, 70, []int{7, 13}, []int{70, 60}},
		{"row limit", []eventRows{rowsOf(1, maxRowsPerInsert-1), rowsOf(1, 2)}, 1 << 30, []int{maxRowsPerInsert - 1, maxRowsPerInsert + 1}, []int{maxRowsPerInsert - 1, 2}},
	} {
		m := mergeRows(tc.parts, tc.max)
		if !slices.Equal(m.ends, tc.ends) || !slices.Equal(m.sizes, tc.sizes) {
			t.Errorf("%s: ends %v sizes %v, want %v %v", tc.name, m.ends, m.sizes, tc.ends, tc.sizes)
		}
		events := 0
		for _, p := range tc.parts {
			events += len(p.timestamps)
		}
		if len(m.timestamps) != events || len(m.args) != events*eventInsertColumns {
			t.Errorf("%s: %d timestamps and %d args for %d events", tc.name, len(m.timestamps), len(m.args), events)
		}
	}
}
