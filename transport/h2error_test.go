package transport_test

import (
	"errors"
	"testing"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// What Go's HTTP/2 errors say of the connection, by their texts as
// engine.TestH2Faults saw them.
func TestH2FaultOf(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want transport.H2Fault
		ok   bool
	}{
		{`Get "http://x/": stream error: stream ID 1; INTERNAL_ERROR; received from peer`, transport.H2Fault{RST: true, Code: metrics.H2InternalError}, true},
		{"stream error: stream ID 3; CANCEL", transport.H2Fault{RST: true, Code: metrics.H2Cancel}, true},
		{"stream error: stream ID 3; PROTOCOL_ERROR; invalid header field value", transport.H2Fault{Code: metrics.H2ProtocolError}, true},
		{"http2: frame too large", transport.H2Fault{ConnError: true, Code: metrics.H2FrameSizeError}, true},
		{"connection error: PROTOCOL_ERROR", transport.H2Fault{ConnError: true, Code: metrics.H2ProtocolError}, true},
		{"http2: server sent GOAWAY and closed the connection; LastStreamID=7, ErrCode=NO_ERROR, debug=\"\"", transport.H2Fault{GoAway: true, LastStreamID: 7, Code: metrics.H2NoError}, true},
		{"http2: failed reading the frame payload: http2: frame too large, note that the frame header looked like an HTTP/1.1 header", transport.H2Fault{}, false},
		{"unexpected EOF", transport.H2Fault{}, false},
	} {
		got, ok := transport.H2FaultOf(errors.New(tc.msg))
		if got != tc.want || ok != tc.ok {
			t.Errorf("H2FaultOf(%q) = %+v, %v; want %+v, %v", tc.msg, got, ok, tc.want, tc.ok)
		}
	}
}
