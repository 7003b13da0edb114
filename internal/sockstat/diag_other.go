//go:build !linux

package sockstat

// Diag is not available here: there are no netlink socket diagnostics.
func Diag(m Match) (Counts, error) { return Counts{}, ErrUnsupported }
