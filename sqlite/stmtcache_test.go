package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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
// prepared once and runs from several goroutines, for statements it evicts
// or does not keep (too long), and after it closed.
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
	// Many more statements, with one of the first kept in use: the cache
	// stays at its bound and keeps the statement in use.
	for n := range 4 * maxCachedStatements {
		if err := count(c, 1000+n, 1); err != nil {
			t.Fatal(err)
		}
		if err := count(c, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.stmts) != maxCachedStatements {
		t.Errorf("cache holds %d statements, want its bound %d", len(c.stmts), maxCachedStatements)
	}
	if _, ok := c.stmts["SELECT ? + 0"]; !ok {
		t.Error("the statement used all along was evicted")
	}
	long := "SELECT ? + 0" + strings.Repeat(" ", maxCachedQueryLen)
	if err := c.QueryRowContext(context.Background(), long, 5).Scan(&one); err != nil || one != 5 {
		t.Fatalf("long statement: %d, %v", one, err)
	}
	if _, ok := c.stmts[long]; ok {
		t.Error("a statement longer than the bound was cached")
	}
	if _, err := c.QueryContext(context.Background(), "SELECT FROM"); err == nil {
		t.Error("a malformed statement ran")
	}
	if err := c.QueryRowContext(context.Background(), "SELECT FROM").Scan(&one); err == nil {
		t.Error("a malformed single-row statement ran")
	}
	c.close()
	if len(c.stmts) != 0 {
		t.Errorf("closed cache holds %d statements", len(c.stmts))
	}
	for _, n := range []int{0, 7} {
		if err := count(c, n, 4); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.stmts) != 0 {
		t.Errorf("closed cache kept %d statements", len(c.stmts))
	}
}

// Reads racing the cache's close, and evictions, on a database that stays
// open all succeed.
func TestStmtCacheCloseRace(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for trial := range 10 {
		c := newStmtCache(db)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 400 {
					if err := count(c, (g*7+i)%(2*maxCachedStatements), i); err != nil {
						t.Errorf("trial %d: %v", trial, err)
						return
					}
				}
			})
		}
		time.Sleep(time.Duration(trial) * time.Millisecond)
		c.close()
		wg.Wait()
	}
}
