// Command faya-vet runs faya's checks of net/http client code
// (github.com/faya-load/faya/vet) as a go vet tool:
//
//	go install github.com/faya-load/faya/cmd/faya-vet
//	go vet -vettool=$(which faya-vet) ./...
//
// go vet's flags work as with its own checks: -json prints the findings
// as JSON, -fix applies the suggested fixes, -NAME (e.g.
// -body-not-drained) runs only the checks named. faya vet ./... runs the
// same checks without go vet.
package main

import (
	"github.com/faya-load/faya/vet"
	"golang.org/x/tools/go/analysis/unitchecker"
)

func main() { unitchecker.Main(vet.Analyzers...) }
