package metrics

// ExpectOutcome says how a request sent with "Expect: 100-continue" went
// on after its head was written.
type ExpectOutcome uint8

// The outcomes of the wait for 100 Continue.
const (
	ExpectNone    ExpectOutcome = iota // not sent with Expect: 100-continue
	ExpectGot100                       // the server answered 100 Continue: the body followed
	ExpectTimeout                      // no answer within the ExpectContinueTimeout: the body went anyway
	ExpectFinal                        // a final answer came first (the body was sent only when the connection stays open)

	numExpectOutcomes
)

// NumExpectOutcomes is the number of ExpectOutcome values.
const NumExpectOutcomes = int(numExpectOutcomes)

var expectNames = [...]string{"none", "got_100", "timeout", "final_first"}

// String returns the outcome's stable name, used as a JSON key.
func (e ExpectOutcome) String() string { return expectNames[e] }
