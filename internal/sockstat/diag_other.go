//go:build !linux

package sockstat

// Diag is not available here: there are no netlink socket diagnostics.
func Diag(m Match) (Counts, error) { return Counts{}, ErrUnsupported }

// DiagSplit is not available here either.
func DiagSplit(m Match, sp *Split) (Counts, error) { return Counts{}, ErrUnsupported }

// DiagSplitTo is not available here either.
func DiagSplitTo(m Match, sp *Split, lo, hi uint16) (Counts, error) {
	return Counts{}, ErrUnsupported
}
