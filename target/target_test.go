package target_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faya-load/faya/target"
)

func TestEndpoints(t *testing.T) {
	tg := target.New()
	srv := httptest.NewUnstartedServer(tg)
	srv.Config.ConnState = tg.ConnState
	srv.Start()
	defer srv.Close()

	for _, tc := range []struct {
		path    string
		status  int
		bodyLen int
		close   bool
	}{
		{"/", 200, len(target.Body), false},
		{"/bytes?n=100000", 200, 100000, false},
		{"/bytes", 200, 1024, false},
		{"/bytes?n=-1", 400, -1, false},
		{"/bytes?n=abc", 400, -1, false},
		{"/slow?ms=1", 200, len(target.Body), false},
		{"/slow?ms=99999999", 400, -1, false},
		{"/status?code=503", 503, -1, false},
		{"/status?code=42", 400, -1, false},
		{"/close", 200, len(target.Body), true},
		{"/nope", 404, -1, false},
	} {
		resp, err := srv.Client().Get(srv.URL + tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.path, resp.StatusCode, tc.status, body)
		}
		if tc.bodyLen >= 0 && len(body) != tc.bodyLen {
			t.Errorf("%s: body %d bytes, want %d", tc.path, len(body), tc.bodyLen)
		}
		if resp.Close != tc.close {
			t.Errorf("%s: Connection close = %v, want %v", tc.path, resp.Close, tc.close)
		}
	}

	st := getStats(t, srv)
	// Every request above is a load request; /stats is not.
	if st.Requests != 11 {
		t.Errorf("requests = %d, want 11", st.Requests)
	}
	// /close forced one new connection besides the first.
	if st.ConnsNew != 2 {
		t.Errorf("conns_new = %d, want 2", st.ConnsNew)
	}
	resp, err := srv.Client().Get(srv.URL + "/reset")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // to EOF, or the connection is not reused
	_ = resp.Body.Close()
	// The reset and the stats request share one kept-alive connection.
	if st := getStats(t, srv); st.Requests != 0 || st.ConnsNew != 0 || st.ConnsActive < 1 {
		t.Errorf("after reset: %+v, want zero counts and the open connection still counted", st)
	}
}

func getStats(t *testing.T, srv *httptest.Server) target.Stats {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // to EOF, or the connection is not reused
	if err != nil {
		t.Fatal(err)
	}
	var st target.Stats
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("stats content type %q", resp.Header.Get("Content-Type"))
	}
	return st
}
