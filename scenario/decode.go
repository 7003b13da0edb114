package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks a YAML node tree strictly: every mapping key must be known,
// every scalar of the expected type; all problems are collected with their
// lines.
type decoder struct {
	file string
	errs []*Error
}

func (d *decoder) errf(n *yaml.Node, format string, a ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, a...)})
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// mapping calls f for each key of the mapping n, in order, and reports
// keys not in known (nil known: any key).
func (d *decoder) mapping(n *yaml.Node, what string, known []string, f func(key string, k, v *yaml.Node)) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.errf(n, "%s: want a mapping (key: value lines), got %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if seen[key] {
			d.errf(k, "%s: key %q given twice", what, key)
			continue
		}
		seen[key] = true
		if known != nil && !slices.Contains(known, key) {
			d.errf(k, "%s: unknown key %q (known: %s)", what, key, strings.Join(known, ", "))
			continue
		}
		f(key, k, v)
	}
}

func (d *decoder) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errf(n, "%s: want a value, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(n *yaml.Node, what string) string {
	s, _ := d.scalar(n, what)
	return s
}

func (d *decoder) integer(n *yaml.Node, what string) int {
	s, ok := d.scalar(n, what)
	if !ok {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		d.errf(n, "%s: %q is not a whole number", what, s)
	}
	return v
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	s, ok := d.scalar(n, what)
	if !ok {
		return false
	}
	switch s {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	d.errf(n, "%s: %q is not true or false", what, s)
	return false
}

func (d *decoder) duration(n *yaml.Node, what string) time.Duration {
	s, ok := d.scalar(n, what)
	if !ok {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		hint := ""
		if _, e := strconv.Atoi(s); e == nil {
			hint = fmt.Sprintf(": give a unit, e.g. %ss or %sms", s, s)
		}
		d.errf(n, "%s: %q is not a duration like 10s or 250ms%s", what, s, hint)
		return 0
	}
	if v < 0 {
		d.errf(n, "%s: %v must not be negative", what, v)
	}
	return v
}

// list accepts a list of scalars, or one scalar.
func (d *decoder) list(n *yaml.Node, what string) []string {
	if n.Kind == yaml.ScalarNode {
		s, _ := d.scalar(n, what)
		return []string{s}
	}
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "%s: want a value or a list, got %s", what, kindName(n))
		return nil
	}
	var out []string
	for _, c := range n.Content {
		if s, ok := d.scalar(c, what); ok {
			out = append(out, s)
		}
	}
	return out
}

func (d *decoder) intList(n *yaml.Node, what string) []int {
	var out []int
	for _, s := range d.list(n, what) {
		v, err := strconv.Atoi(s)
		if err != nil {
			d.errf(n, "%s: %q is not a whole number", what, s)
			continue
		}
		out = append(out, v)
	}
	return out
}

// stringMap decodes a mapping of scalars, keeping the order.
func (d *decoder) stringMap(n *yaml.Node, what string) [][2]string {
	var out [][2]string
	d.mapping(n, what, nil, func(key string, _, v *yaml.Node) {
		out = append(out, [2]string{key, d.str(v, what+" "+key)})
	})
	return out
}
