package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The README's "As a library" section is this program, byte for byte: a
// change to one is a change to the other, and the program is built and
// run by the tests.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## As a library\n")
	if !ok {
		t.Fatal(`README.md has no "## As a library" section`)
	}
	_, block, ok := strings.Cut(section, "```go\n")
	if !ok {
		t.Fatal(`the "As a library" section has no go code block`)
	}
	block, _, _ = strings.Cut(block, "```\n")
	prog, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	if block != string(prog) {
		t.Errorf("the README's program is not main.go (copy main.go into the section):\n%s", block)
	}
}

// The program, run on a free loopback port: its report names the faya
// version and the request, counts every request, and shows the 50 VUs
// on at most 50 connections.
func Example() {
	var out bytes.Buffer
	if err := run(context.Background(), "127.0.0.1:0", &out); err != nil {
		fmt.Println(err)
		return
	}
	lines := strings.Split(out.String(), "\n")
	fmt.Println(regexp.MustCompile(`^faya \S+: GET http://127\.0\.0\.1:\d+/$`).ReplaceAllString(lines[0], "faya VERSION: GET http://127.0.0.1:PORT/"))
	fmt.Println(lines[1])
	for _, l := range lines {
		if strings.HasPrefix(l, "  requests    ") {
			fmt.Println(l)
		}
		if f := strings.Fields(l); len(f) > 1 && f[0] == "dialed" {
			n, err := strconv.Atoi(f[1])
			fmt.Println("connections: at most 50:", err == nil && n >= 1 && n <= 50)
		}
	}
	// Output:
	// faya VERSION: GET http://127.0.0.1:PORT/
	//   closed model: 50 VUs, 10000 requests, h1 engine, one shared pool
	//   requests    10000  (ok 10000, http errors 0, errors 0)
	// connections: at most 50: true
}
