package runfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// Intervals reads a saved run's intervals, with their snapshots, in
// order: those up to the end, or up to the cut of a run cut short (for
// faya merge, which merges them interval by interval).
func Intervals(path string) ([]Interval, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	sc, _, err := open(f)
	if err != nil {
		return nil, err
	}
	var out []Interval
	var budget int64
	for {
		b, err := sc.next(maxLine)
		if errors.Is(err, errLong) {
			return nil, sc.damaged(err)
		}
		if err != nil {
			return out, nil // cut: what was read
		}
		if err := spend(&budget, b, fi.Size()); err != nil {
			return nil, sc.damaged(err)
		}
		var l line
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, sc.damaged(err)
		}
		switch {
		case l.Interval != nil:
			if l.Interval.Snapshot == nil {
				return nil, sc.damaged(errors.New("an interval without its snapshot"))
			}
			out = append(out, *l.Interval)
		case l.End != nil:
			return out, nil
		default:
			return nil, sc.damaged(errors.New("neither an interval nor the end"))
		}
	}
}
