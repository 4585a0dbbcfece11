package metawire

import "testing"

func TestStrings(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		ok   bool
		want Fields
	}{
		{"empty", nil, true, Fields{}},
		{"empty map", []byte{0xa0}, true, Fields{}},
		{"id", []byte{0xa1, 0x01, 0x62, 'i', 'd'}, true, Fields{[]byte("id")}},
		{"causation, empty id", []byte{0xa2, 0x05, 0x61, 'c', 0x01, 0x60}, true, Fields{4: []byte("c")}},
		{"key 1 twice", []byte{0xa2, 0x01, 0x61, 'a', 0x01, 0x61, 'b'}, false, Fields{}},
		{"key 6 (values)", []byte{0xa1, 0x06, 0xa0}, false, Fields{}},
		{"not UTF-8", []byte{0xa1, 0x01, 0x61, 0xff}, false, Fields{}},
		{"indefinite map", []byte{0xbf, 0x01, 0x61, 'a', 0xff}, false, Fields{}},
		{"trailing byte", []byte{0xa1, 0x01, 0x61, 'a', 0x00}, false, Fields{}},
		{"length past the end", []byte{0xa1, 0x01, 0x65, 'a'}, false, Fields{}},
		{"not a map", []byte{0x61, 'a'}, false, Fields{}},
	} {
		got, ok := Strings(c.in)
		if ok != c.ok {
			t.Errorf("%s: ok = %v, want %v", c.name, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		for i := range got {
			if string(got[i]) != string(c.want[i]) || (got[i] == nil) != (c.want[i] == nil) {
				t.Errorf("%s: field %d = %q, want %q", c.name, i, got[i], c.want[i])
			}
		}
		if got.Len() != c.want.Len() {
			t.Errorf("%s: Len = %d, want %d", c.name, got.Len(), c.want.Len())
		}
	}
}

func TestCopy(t *testing.T) {
	in := []byte("idrequested-bycause")
	f := Fields{in[0:2], in[2:14], nil, nil, in[14:19]}
	got := f.Copy()
	for i := range in {
		in[i] = 'x'
	}
	if want := [5]string{"id", "requested-by", "", "", "cause"}; got != want {
		t.Errorf("Copy = %q, want %q", got, want)
	}
	if got := (&Fields{}).Copy(); got != [5]string{} {
		t.Errorf("Copy of no fields = %q", got)
	}
}
