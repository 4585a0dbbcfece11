// Package filter holds what the stores share about the filters of a read.
package filter

import "github.com/eventogo/evento"

// Simplify returns filters without the ones another filter of the list
// already covers: duplicates, any filter of a type that a whole-type
// filter reads, and a filter of an aggregate and a name that a filter of
// the whole aggregate or of the type and name reads. The filters left
// match the same events, in the order they came.
func Simplify(filters []evento.Filter) []evento.Filter {
	if len(filters) < 2 {
		return filters
	}
	type (
		aggregate struct{ typ, id string }
		typeName  struct{ typ, name string }
	)
	wholeType := make(map[string]bool)
	wholeAggregate := make(map[aggregate]bool)
	wholeName := make(map[typeName]bool)
	for _, f := range filters {
		switch {
		case f.AggregateID == "" && f.Name == "":
			wholeType[f.AggregateType] = true
		case f.Name == "":
			wholeAggregate[aggregate{f.AggregateType, f.AggregateID}] = true
		case f.AggregateID == "":
			wholeName[typeName{f.AggregateType, f.Name}] = true
		}
	}
	seen := make(map[evento.Filter]bool, len(filters))
	out := make([]evento.Filter, 0, len(filters))
	for _, f := range filters {
		narrow := f.AggregateID != "" || f.Name != ""
		switch {
		case seen[f],
			narrow && wholeType[f.AggregateType],
			f.AggregateID != "" && f.Name != "" &&
				(wholeAggregate[aggregate{f.AggregateType, f.AggregateID}] || wholeName[typeName{f.AggregateType, f.Name}]):
			continue
		}
		seen[f] = true
		out = append(out, f)
	}
	return out
}
