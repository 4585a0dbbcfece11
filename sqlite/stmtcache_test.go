package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// count runs "SELECT ?+n" through c and checks the answer.
func count(c *stmtCache, n, arg int) error {
	rows, err := c.QueryContext(context.Background(), fmt.Sprintf("SELECT ? + %d", n), arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	var got int
	if !rows.Next() {
		return fmt.Errorf("SELECT ? + %d: no row (%v)", n, rows.Err())
	}
	if err := rows.Scan(&got); err != nil {
		return err
	}
	if got != arg+n {
		return fmt.Errorf("SELECT %d + %d = %d", arg, n, got)
	}
	return nil
}

// The statement cache answers as the database does: for statements it
// prepared once and runs from several goroutines, for statements beyond
// its bound, which it runs unprepared, and after it closed.
func TestStmtCache(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := newStmtCache(db)
	var one int
	if err := c.QueryRowContext(context.Background(), "SELECT ? * 2", 21).Scan(&one); err != nil || one != 42 {
		t.Fatalf("SELECT 21 * 2 = %d, %v", one, err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if err := count(c, i%5, g*100+i); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(c.stmts) != 6 {
		t.Errorf("cache holds %d statements, want 6", len(c.stmts))
	}
	for n := range maxCachedStatements + 10 {
		if err := count(c, n, 1); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.stmts) != maxCachedStatements {
		t.Errorf("cache holds %d statements, want its bound %d", len(c.stmts), maxCachedStatements)
	}
	c.close()
	if len(c.stmts) != 0 {
		t.Errorf("closed cache holds %d statements", len(c.stmts))
	}
	for _, n := range []int{3, maxCachedStatements + 20} {
		if err := count(c, n, 4); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.stmts) != 0 {
		t.Errorf("closed cache kept %d statements", len(c.stmts))
	}
	if _, err := c.QueryContext(context.Background(), "SELECT FROM"); err == nil {
		t.Error("a malformed statement ran")
	}
	var n int
	if err := c.QueryRowContext(context.Background(), "SELECT FROM").Scan(&n); err == nil {
		t.Error("a malformed single-row statement ran")
	}
}
