package pebble_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/eventogo/evento/pebble"
)

func TestStringEncodingPreservesOrder(t *testing.T) {
	alphabet := []byte{0x00, 0x01, 0x02, 'a', 'b', 0xFE, 0xFF}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() string {
		b := make([]byte, rng.IntN(6))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 20000 {
		a, b := random(), random()
		ea, eb := pebble.AppendString(nil, a), pebble.AppendString(nil, b)
		if got, want := bytes.Compare(ea, eb), bytes.Compare([]byte(a), []byte(b)); got != want {
			t.Fatalf("compare(enc(%q), enc(%q)) = %d, want %d", a, b, got, want)
		}
		if a != b && (bytes.HasPrefix(ea, eb) || bytes.HasPrefix(eb, ea)) {
			t.Fatalf("enc(%q) = %x and enc(%q) = %x: one is a prefix of the other", a, ea, b, eb)
		}
		// A following column never changes the order of two strings.
		if a != b {
			x, y := pebble.AppendUint64(ea, rng.Uint64()), pebble.AppendUint64(eb, rng.Uint64())
			if bytes.Compare(x, y) != bytes.Compare([]byte(a), []byte(b)) {
				t.Fatalf("a position after %q and %q changes their order", a, b)
			}
		}
	}
}

func TestPositionEncodingPreservesOrder(t *testing.T) {
	values := []uint64{0, 1, 2, 255, 256, 65535, 65536, 1 << 32, 1<<63 - 1, 1 << 63, ^uint64(0)}
	for i := range values {
		for j := range values {
			got := bytes.Compare(pebble.AppendUint64(nil, values[i]), pebble.AppendUint64(nil, values[j]))
			want := 0
			if values[i] < values[j] {
				want = -1
			} else if values[i] > values[j] {
				want = 1
			}
			if got != want {
				t.Errorf("compare(enc(%d), enc(%d)) = %d, want %d", values[i], values[j], got, want)
			}
		}
	}
}

func TestEventKeysSortByPosition(t *testing.T) {
	prev := pebble.EventKey("evento", 1)
	for _, p := range []uint64{2, 255, 256, 1 << 20, 1 << 40} {
		k := pebble.EventKey("evento", p)
		if bytes.Compare(prev, k) >= 0 {
			t.Fatalf("event key of %d does not sort after the previous one", p)
		}
		prev = k
	}
}

func TestNamespacesDoNotInterleave(t *testing.T) {
	// "ab"'s keys must fall outside the scan range of every table of "a".
	inner := pebble.TypeIndexKey("a", "t")
	other := pebble.EventKey("ab", 1)
	lo, hi := pebble.EventKey("a", 0)[:3], pebble.PrefixEnd(pebble.EventKey("a", 0)[:3])
	if bytes.Compare(other, lo) >= 0 && bytes.Compare(other, hi) < 0 {
		t.Errorf("key %x of prefix ab falls in the event table of prefix a [%x, %x)", other, lo, hi)
	}
	if bytes.HasPrefix(pebble.TypeIndexKey("ab", "t"), inner[:2]) {
		t.Errorf("namespace of a is a prefix of the keys of ab")
	}
	// A type that is a prefix of another type gets a disjoint range.
	ta, tab := pebble.TypeIndexKey("evento", "bank/Account"), pebble.TypeIndexKey("evento", "bank/AccountOwner")
	if bytes.HasPrefix(tab, ta) {
		t.Errorf("type index of bank/Account is a prefix of bank/AccountOwner's")
	}
}
