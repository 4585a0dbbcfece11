package evtest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// bugEnv names the environment variable that gives the memory executor a
// deliberate bug.
const bugEnv = "EVTEST_MEMORY_BUG"

// TestSuiteCatchesBugs runs scenarios of the suite against the memory
// executor with one deliberate bug at a time, in a child process, and
// checks that the scenario meant to catch the bug fails: a suite that
// passes a broken executor proves nothing.
func TestSuiteCatchesBugs(t *testing.T) {
	if os.Getenv(bugEnv) != "" {
		t.Skip("child process")
	}
	if testing.Short() {
		t.Skip("runs the suite once per bug")
	}
	for bug, scenario := range map[string]string{
		"no-commit-validation":   "BadInput/InvalidCommits",
		"no-idempotency":         "Conflict/RetrySameBuilder",
		"partial-commit":         "Conflict/AtomicCommit",
		"no-version-check":       "Conflict/SameExpectedVersion",
		"routing-not-inherited":  "RoutingKey/FixedByFirstCommit",
		"millisecond-timestamps": "Append/FieldsRoundTrip",
		"drop-metadata":          "Append/FieldsRoundTrip",
		"16-bit-versions":        "Load/VersionAbove65535",
		"no-query-validation":    "Pagination/InvalidArgs",
		"panic-on-bad-cursor":    "Pagination/MalformedCursor",
		"none-is-any":            "Pagination/MatchesReference",
		"no-previous-page":       "Pagination/MatchesReference",
		"skip-every-50th":        "Concurrency/TailingReaderMissesNothing",
		"no-snapshots":           "Snapshot/ReplayOnlyNewEvents",
		"lease-never-held":       "Lease/WorkersExclusive",
		"release-noop":           "Lease/AcquireRenewRelease",
		"ack-not-fenced":         "Lease/FencedStaleWorker",
		"no-wake":                "Subscription/StartWakesOnAppend",
		"ack-drops-error":        "Production/FatalFailureRecorded",
		"ack-drops-park":         "Production/ParkAndReplay",
		"park-not-fenced":        "Production/ParkFencedByLease",
		"delete-always-ok":       "Production/ParkAndReplay",
		"tx-commits-on-failure":  "Production/Transactional",
	} {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			run := "^TestMemory$/^" + strings.ReplaceAll(scenario, "/", "$/^") + "$"
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", run, "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), bugEnv+"="+bug)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "--- FAIL: TestMemory/"+scenario) {
				t.Errorf("with bug %s, scenario %s did not fail (%v):\n%s", bug, scenario, err, out)
			}
		})
	}
}
