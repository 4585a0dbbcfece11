package sqlstore

import (
	"errors"
	"testing"

	"github.com/eventogo/evento"
)

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"evento_", "_", "a", "tenant_42_", "a23456789012345678901234567890123456789012"[:41]} {
		if err := ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"", "x; DROP TABLE", `a"b`, "a`b", "A", "9a", "a-b", "a.b", "é",
		"a234567890123456789012345678901234567890123"[:42], "evento_\n"} {
		if err := ValidatePrefix(p); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("ValidatePrefix(%q) = %v, want ErrInvalidArgument", p, err)
		}
	}
}

func TestQuote(t *testing.T) {
	ansi := Dialect{IdentQuote: '"'}
	mysql := Dialect{IdentQuote: '`'}
	for _, tc := range []struct {
		d    Dialect
		in   string
		want string
	}{
		{ansi, "evento_events", `"evento_events"`},
		{ansi, `a"b`, `"a""b"`},
		{mysql, "evento_events", "`evento_events`"},
		{mysql, "a`b", "`a``b`"},
	} {
		if got := tc.d.Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestPlaceholder(t *testing.T) {
	q := Dialect{Placeholders: QuestionMarks}
	d := Dialect{Placeholders: DollarNumbers}
	if q.Placeholder(3) != "?" || d.Placeholder(3) != "$3" || d.Placeholder(12) != "$12" {
		t.Errorf("placeholders: %s %s %s", q.Placeholder(3), d.Placeholder(3), d.Placeholder(12))
	}
}

func TestValidateSchema(t *testing.T) {
	for _, s := range []string{"public", "_", "tenant_42", "a23456789012345678901234567890123456789012345678901234567890123"} {
		if err := ValidateSchema(s); err != nil {
			t.Errorf("ValidateSchema(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range []string{"", `public"; DROP SCHEMA public CASCADE; --`, "Public", "9a", "a-b", "a.b", "a b", "é",
		"a234567890123456789012345678901234567890123456789012345678901234", "public\n"} {
		if err := ValidateSchema(s); !errors.Is(err, evento.ErrInvalidArgument) {
			t.Errorf("ValidateSchema(%q) = %v, want ErrInvalidArgument", s, err)
		}
	}
}
