package metrics

import (
	"net/netip"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The most addresses a snapshot keeps accounts for. Sources are the
// source addresses connections bound (--local-addr, itself at most
// 1024); destinations are the addresses connections were made to (what
// --resolve gave or DNS answered, a proxy's when through one). Further
// destinations are counted together under [OtherAddr], the last slot, so
// that the per-address latency histograms stay few.
const (
	MaxSourceAddrs = 1024
	MaxDestAddrs   = 32
)

// OtherAddr names the slot that gathers the destinations past the first
// MaxDestAddrs-1.
const OtherAddr = "other"

// AddrStats are one address's accounts: the connections made from it (a
// source) or to it (a destination), and for a destination the requests
// those connections carried and their latency.
type AddrStats struct {
	// Addr is the address: "127.0.0.2" for a source, "127.0.0.1:8080"
	// for a destination, [OtherAddr] for the destinations past the cap.
	Addr   string
	Dialed int64 // connections established
	// Requests sent on its connections, and those of them that failed
	// without a response (destinations only; setup requests excluded).
	Requests, Errors int64
	// latency is the requests' latency, at addrDigits significant digits
	// (destinations only).
	latency *hdrhistogram.Histogram
}

// addrDigits is the precision of the per-address latency histograms: 2
// significant digits (a 1% resolution) take 36 kB a histogram where the
// run's 3 digits take 270 kB, which bounds a snapshot's per-address
// accounts to about a megabyte.
const addrDigits = 2

func newAddrHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, addrDigits)
}

// Latency returns the latency histogram of the requests to the address
// (2 significant digits), or nil.
func (a *AddrStats) Latency() *hdrhistogram.Histogram { return a.latency }

func (a *AddrStats) add(x *Sample) {
	a.Requests++
	if x.Err != ErrNone {
		a.Errors++
	}
	if a.latency == nil {
		a.latency = newAddrHist()
	}
	_ = a.latency.RecordValue(min(max(int64(x.Latency), 0), histHighest))
}

func (a *AddrStats) merge(o *AddrStats) {
	a.Dialed += o.Dialed
	a.Requests += o.Requests
	a.Errors += o.Errors
	if o.latency != nil && o.latency.TotalCount() > 0 {
		if a.latency == nil {
			a.latency = newAddrHist()
		}
		a.latency.Merge(o.latency)
	}
}

func (a *AddrStats) reset() {
	h := a.latency
	*a = AddrStats{}
	if h != nil && h.TotalCount() > 0 {
		h.Reset()
	}
	a.latency = h
}

// addrStats returns the accounts in slot i of list, growing it as needed.
func addrStats(list *[]AddrStats, i int) *AddrStats {
	if i < len(*list) {
		return &(*list)[i]
	}
	return growAddrs(list, i)
}

// growAddrs is addrStats' growth, out of its callers' line.
//
//go:noinline
func growAddrs(list *[]AddrStats, i int) *AddrStats {
	for len(*list) <= i {
		*list = append(*list, AddrStats{})
	}
	return &(*list)[i]
}

// mergeAddrs adds src's accounts into dst's. Slots match by address; a
// slot without one (a shard's, named at the flush) matches by index, as
// within one recorder indexes name the same address. An address dst
// does not have is added while there is room (limit slots), and merged
// into the last slot, renamed [OtherAddr], past it.
func mergeAddrs(dst *[]AddrStats, src []AddrStats, limit int) {
	for i := range src {
		o := &src[i]
		if o.Addr == "" || i < len(*dst) && ((*dst)[i].Addr == o.Addr || (*dst)[i].Addr == "") {
			d := addrStats(dst, i)
			if d.Addr == "" {
				d.Addr = o.Addr
			}
			d.merge(o)
			continue
		}
		j := -1
		for k := range *dst {
			if (*dst)[k].Addr == o.Addr {
				j = k
				break
			}
		}
		switch {
		case j >= 0:
		case len(*dst) < limit:
			j = len(*dst)
			*dst = append(*dst, AddrStats{Addr: o.Addr})
		default:
			j = len(*dst) - 1
			(*dst)[j].Addr = OtherAddr
		}
		(*dst)[j].merge(o)
	}
}

func resetAddrs(list []AddrStats) []AddrStats {
	for i := range list {
		list[i].reset()
	}
	return list
}

// addrTable gives addresses their slots in a recorder's accounts, in the
// order they were first seen (or registered beforehand).
type addrTable[K comparable] struct {
	index map[K]int
	names []string
	limit int
	other bool // the last slot gathers the rest
}

// slot returns k's slot, registering it; past the limit, the last slot
// (OtherAddr) when other, else -1.
func (t *addrTable[K]) slot(k K, name func() string) int {
	if i, ok := t.index[k]; ok {
		return i
	}
	n := len(t.names)
	last := t.limit
	if t.other {
		last--
	}
	if n >= last {
		if !t.other {
			return -1
		}
		if n == last {
			t.names = append(t.names, OtherAddr)
		}
		return last
	}
	if t.index == nil {
		t.index = map[K]int{}
	}
	t.index[k] = n
	t.names = append(t.names, name())
	return n
}

// RegisterAddrs gives the source addresses connections will bind
// (--local-addr) and the destinations they were told of (--resolve) their
// slots first, in the order given, so that the accounts list them all in
// that order (an address no connection used shows with zero). Call it
// before the run.
func (r *Recorder) RegisterAddrs(sources []netip.Addr, dests []netip.AddrPort) {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	for _, a := range sources {
		if i := r.srcs.slot(a, a.String); i >= 0 {
			addrStats(&r.conns.Sources, i)
		}
	}
	for _, a := range dests {
		addrStats(&r.conns.Dests, r.dsts.slot(a, a.String))
	}
}

// ConnDialedAt counts an established connection that speaks p, as
// ConnDialedProto does, and by its addresses: src is the source address
// it bound (--local-addr; the zero Addr when it bound none: no source
// accounts), dst the address it connected to. It returns the
// destination's slot plus one, for the samples of the requests the
// connection carries ([Sample.Dest]).
func (r *Recorder) ConnDialedAt(p Protocol, src netip.Addr, dst netip.AddrPort) int32 {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	r.dialedLocked(p)
	if src.IsValid() {
		if i := r.srcs.slot(src, src.String); i >= 0 {
			addrStats(&r.conns.Sources, i).Dialed++
		}
	}
	if !dst.IsValid() {
		return 0
	}
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	i := r.dsts.slot(dst, dst.String)
	addrStats(&r.conns.Dests, i).Dialed++
	return int32(i) + 1
}

// nameAddrs names dst's address slots from the recorder's tables. connMu
// is held.
func (r *Recorder) nameAddrs(dst *Snapshot) {
	for i := range dst.Sources {
		if i < len(r.srcs.names) {
			dst.Sources[i].Addr = r.srcs.names[i]
		}
	}
	for i := range dst.Dests {
		if i < len(r.dsts.names) {
			dst.Dests[i].Addr = r.dsts.names[i]
		}
	}
}
