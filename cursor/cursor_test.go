package cursor_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/eventogo/evento/cursor"
)

func TestNextIsTheSmallestPositionAfter(t *testing.T) {
	for _, p := range []cursor.Position{{}, {Seq: 4}, {Tx: 3, Seq: 9}, {Tx: 3, Seq: ^uint64(0)}} {
		n := p.Next()
		if !p.Less(n) {
			t.Errorf("%v.Next() = %v, not after it", p, n)
		}
	}
	if got := (cursor.Position{Tx: 2, Seq: 7}).Next(); got != (cursor.Position{Tx: 2, Seq: 8}) {
		t.Errorf("Next = %v", got)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, p := range []cursor.Position{{}, {Seq: 1}, {Seq: 1 << 40}, {Tx: 7, Seq: 3}, {Tx: ^uint64(0), Seq: ^uint64(0)}} {
		v := cursor.Encode(p)
		if strings.ContainsAny(string(v), "+/=") {
			t.Errorf("cursor %q is not URL-safe", v)
		}
		got, err := cursor.Decode(v)
		if err != nil || got != p {
			t.Errorf("Decode(Encode(%v)) = %v, %v", p, got, err)
		}
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	vector := cursor.EncodeVector(cursor.Vector{Positions: []cursor.Position{{Seq: 1}}, Head: 0})
	real := string(cursor.Encode(cursor.Position{Seq: 123456}))
	for _, v := range []cursor.Value{"!!!", "AQ", "AgE", cursor.Value(real[:len(real)-2]), vector,
		cursor.Value(real + "AA"), cursor.Value(strings.Repeat("A", cursor.MaxLen+1))} {
		if _, err := cursor.Decode(v); !errors.Is(err, cursor.ErrInvalid) {
			t.Errorf("Decode(%q) error = %v, want ErrInvalid", v, err)
		}
	}
}

func TestVectorRoundTripAndSize(t *testing.T) {
	ps := []cursor.Position{{Seq: 5}, {}, {Tx: 9, Seq: 2}}
	for _, head := range []int{-1, 0, 2} {
		got, err := cursor.DecodeVector(cursor.EncodeVector(cursor.Vector{Positions: ps, Head: head}), 3)
		if err != nil || got.Head != head || !slices.Equal(got.Positions, ps) {
			t.Fatalf("DecodeVector = %+v, %v", got, err)
		}
	}
	empty, err := cursor.DecodeVector("", 2)
	if err != nil || empty.Head != -1 || len(empty.Positions) != 2 || !empty.Positions[0].IsZero() {
		t.Errorf("empty vector = %+v, %v", empty, err)
	}
	if _, err := cursor.DecodeVector(cursor.EncodeVector(cursor.Vector{Positions: ps, Head: 3}), 3); !errors.Is(err, cursor.ErrInvalid) {
		t.Errorf("head out of range: err = %v, want ErrInvalid", err)
	}
	if _, err := cursor.DecodeVector(cursor.EncodeVector(cursor.Vector{Positions: ps}), 2); !errors.Is(err, cursor.ErrInvalid) {
		t.Errorf("wrong member count: err = %v, want ErrInvalid", err)
	}
	if _, err := cursor.DecodeVector(cursor.Encode(ps[0]), 1); !errors.Is(err, cursor.ErrInvalid) {
		t.Errorf("position cursor as vector: err = %v, want ErrInvalid", err)
	}
}

func TestPaginateBothWays(t *testing.T) {
	items := []int{1, 2, 3, 5, 8, 13, 21}
	pos := func(i int) cursor.Position { return cursor.Position{Seq: uint64(i)} }

	var forward []int
	after := cursor.Value("")
	for pages := 0; ; pages++ {
		p, err := cursor.Paginate(items, pos, cursor.Forward(3, after))
		if err != nil {
			t.Fatal(err)
		}
		forward = append(forward, p.Nodes()...)
		if p.PageInfo.HasPreviousPage {
			t.Error("forward page reports HasPreviousPage")
		}
		if !p.PageInfo.HasNextPage {
			if pages != 2 {
				t.Errorf("forward walk took %d pages, want 3", pages+1)
			}
			break
		}
		after = p.PageInfo.EndCursor
	}
	if !equal(forward, items) {
		t.Errorf("forward walk = %v, want %v", forward, items)
	}

	var backward []int
	before := cursor.Value("")
	for {
		p, err := cursor.Paginate(items, pos, cursor.Backward(3, before))
		if err != nil {
			t.Fatal(err)
		}
		nodes := p.Nodes()
		for i := 1; i < len(nodes); i++ {
			if nodes[i-1] >= nodes[i] {
				t.Fatalf("backward page not ascending: %v", nodes)
			}
		}
		backward = append(nodes, backward...)
		if !p.PageInfo.HasPreviousPage {
			break
		}
		before = p.PageInfo.StartCursor
	}
	if !equal(backward, items) {
		t.Errorf("backward walk = %v, want %v", backward, items)
	}

	// A cursor between items resumes after it.
	p, err := cursor.Paginate(items, pos, cursor.Forward(2, cursor.Encode(cursor.Position{Seq: 4})))
	if err != nil || !equal(p.Nodes(), []int{5, 8}) || !p.PageInfo.HasNextPage {
		t.Errorf("after 4: %v %+v %v", p.Nodes(), p.PageInfo, err)
	}
}

func TestArgsValidate(t *testing.T) {
	for _, a := range []cursor.Args{{First: -1}, {Last: -1}, {First: 1, Last: 1}, {After: "x", Before: "y"},
		{First: cursor.MaxLimit + 1}} {
		if err := a.Validate(); !errors.Is(err, cursor.ErrInvalidArgs) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidArgs", a, err)
		}
	}
	if (cursor.Args{}).Limit() != cursor.DefaultLimit {
		t.Error("zero Args does not use DefaultLimit")
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzDecode(f *testing.F) {
	f.Add(string(cursor.Encode(cursor.Position{Seq: 42})))
	f.Add(string(cursor.Encode(cursor.Position{Tx: 1 << 50, Seq: 3})))
	f.Add(string(cursor.EncodeVector(cursor.Vector{Positions: []cursor.Position{{Seq: 1}, {Seq: 2}}, Head: 1})))
	f.Add("")
	f.Add("AQE")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := cursor.Decode(cursor.Value(s))
		if err != nil {
			if !errors.Is(err, cursor.ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
		} else if q, err := cursor.Decode(cursor.Encode(p)); err != nil || q != p {
			t.Fatalf("re-encoding %v gives %v, %v", p, q, err)
		}
		if v, err := cursor.DecodeVector(cursor.Value(s), 2); err == nil && (len(v.Positions) != 2 || v.Head < -1 || v.Head > 1) {
			t.Fatalf("DecodeVector returned %+v for 2 members", v)
		} else if err != nil && !errors.Is(err, cursor.ErrInvalid) {
			t.Fatalf("error %v does not match ErrInvalid", err)
		}
	})
}
