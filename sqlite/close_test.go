package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// An Append racing Close either completes before it or fails after it: no
// append connection outlives the executor (which would keep the database
// file open) and no append succeeds after Close returned. The race is
// narrow; the test tries many times.
func TestAppendRacingClose(t *testing.T) {
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Second)
	for trial := 0; time.Now().Before(deadline); trial++ {
		x, err := Open(ctx, filepath.Join(t.TempDir(), "evento.db"))
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg   sync.WaitGroup
			stop atomic.Bool
		)
		for w := range 8 {
			wg.Go(func() {
				v := int64(0)
				for !stop.Load() {
					if x.Append(ctx, commit(fmt.Sprintf("w%d", w), v, 1)) == nil {
						v++
					}
				}
			})
		}
		time.Sleep(time.Duration(trial%5) * 100 * time.Microsecond)
		x.Close()
		stop.Store(true)
		wg.Wait()
		err = x.Append(ctx, commit("after-close", 0, 1))
		x.writer <- struct{}{}
		leaked := x.w != nil
		<-x.writer
		if err == nil || leaked {
			t.Fatalf("trial %d: after Close returned, Append = %v; append connection still open = %v", trial, err, leaked)
		}
	}
}
