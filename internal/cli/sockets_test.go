package cli

import "testing"

// The live TIME_WAIT count is the target's estimate, not the host's: the
// sockets other programs left before the run are not counted, even while
// they expire.
func TestTimeWaitToTarget(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		before, hostBefore, hostNow int
		want                        int64
	}{
		{"others' sockets expiring", 0, 8772, 3197, 0},
		{"a rise is the run's", 5, 8772, 8822, 55},
		{"quiet host", 0, 0, 50, 50},
		{"the target's own sockets expiring", 40, 40, 10, 10},
	} {
		if got := timeWaitToTarget(tc.before, tc.hostBefore, tc.hostNow); got != tc.want {
			t.Errorf("%s: timeWaitToTarget(%d, %d, %d) = %d, want %d", tc.name, tc.before, tc.hostBefore, tc.hostNow, got, tc.want)
		}
	}
}
