package phone

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"conclave/clients/phone/dtmf"
	"conclave/clients/phone/sdp"
	"conclave/clients/phone/srtp"
	"conclave/clients/phone/stream"
)

// minSE is our Min-SE (RFC 4028, Section 5: at least 90 s).
const minSE = 90

func parseInfoDigit(ct string, body []byte) (byte, error) { return dtmf.ParseInfo(ct, body) }

func (g *Gateway) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, tagged := to.Params.Get("tag"); tagged {
			g.onReInvite(req, tx)
			return
		}
	}
	src := sourceAddr(req)
	// New calls are limited per source before any work, so a flood costs
	// little and never touches calls in progress.
	if !g.flood.Allow(src) {
		respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "10"))
		return
	}
	if g.Calls() >= g.cfg.MaxCalls {
		respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "30"))
		return
	}
	who, ok := g.authenticate(req, tx, src)
	if !ok {
		return
	}
	if ct := req.ContentType(); ct == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(ct.Value(), ";", 2)[0]), "application/sdp") {
		// Offerless INVITEs (RFC 3261, Section 13.2.1 allows them) are
		// not supported: desk phones and trunks send an offer.
		respond(tx, req, 488, "Not Acceptable Here", sip.NewHeader("Warning", `399 conclave "an SDP offer is required"`))
		return
	}
	offer, err := sdp.Parse(req.Body())
	if err != nil {
		respond(tx, req, 488, "Not Acceptable Here")
		return
	}
	secureTransport := strings.EqualFold(req.Transport(), "TLS")
	if g.cfg.SRTP == SRTPRequired && (!offer.Secure || !secureTransport) {
		respond(tx, req, 488, "Not Acceptable Here", sip.NewHeader("Warning", `399 conclave "SRTP over SIP TLS is required"`))
		return
	}
	choice, err := sdp.Negotiate(offer, g.prefs)
	if err != nil {
		respond(tx, req, 488, "Not Acceptable Here")
		return
	}
	expires, err := g.sessionTimer(req)
	if err != nil {
		respond(tx, req, 422, "Session Interval Too Small", sip.NewHeader("Min-SE", strconv.Itoa(minSE)))
		return
	}
	var local, remote srtp.Crypto
	var sess *srtp.Session
	if offer.Secure {
		remote, local, err = srtp.Choose(nil, offer.Crypto)
		if err == nil {
			sess, err = srtp.NewSession(local, remote)
		}
		if err != nil {
			respond(tx, req, 488, "Not Acceptable Here")
			return
		}
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(g.mediaIP, 0)))
	if err != nil {
		respond(tx, req, 500, "Server Internal Error")
		return
	}
	st, err := stream.New(stream.Config{Conn: conn, Remote: offer.Addr, Choice: choice, SRTP: sess})
	if err != nil {
		conn.Close()
		respond(tx, req, 500, "Server Internal Error")
		return
	}
	dtx, err := g.dialogs.ReadInvite(req, tx)
	if err != nil {
		conn.Close()
		respond(tx, req, 400, "Bad Request")
		return
	}
	var sid [8]byte
	_, _ = rand.Read(sid[:])
	answer := sdp.Answer{
		Choice: choice, Addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		SessionID: binary.BigEndian.Uint64(sid[:]) >> 1, Version: 1,
	}
	if offer.Secure {
		answer.Crypto = local.String()
	}
	callID := req.CallID().Value()
	c := &call{
		g: g, id: g.callSeq.Add(1), callID: callID, dtx: dtx, stream: st, conn: conn,
		who: who, caller: callerOf(req, who, g.cfg.Name), answer: answer.Marshal(),
		transport: strings.ToLower(req.Transport()), expires: expires,
		end: make(chan struct{}), refreshed: make(chan struct{}, 1), remote: offer.Addr,
	}
	c.log = g.log.With("call", c.id, "transport", c.transport, "codec", choice.Codec.Name(), "srtp", offer.Secure)
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		conn.Close()
		_ = dtx.Respond(503, "Service Unavailable", nil)
		return
	}
	g.calls[callID] = c
	g.callWG.Add(1)
	g.mu.Unlock()
	forget := func() {
		g.mu.Lock()
		delete(g.calls, callID)
		g.mu.Unlock()
		g.callWG.Done()
	}
	if err := c.answerCall(); err != nil {
		c.log.Info("call not confirmed", "err", err)
		conn.Close()
		dtx.Close()
		forget()
		return
	}
	// The call's goroutine is owned by the gateway: it ends when the
	// call does or when Serve stops (callWG).
	go func() {
		defer forget()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-g.stopping:
				cancel()
			case <-ctx.Done():
			}
		}()
		c.run(ctx)
	}()
}

// sessionTimer reads Session-Expires (RFC 4028, Section 9): 0 if the
// caller does not support timers or we disabled them.
func (g *Gateway) sessionTimer(req *sip.Request) (time.Duration, error) {
	if g.cfg.SessionExpires <= 0 {
		return 0, nil
	}
	want := int(g.cfg.SessionExpires / time.Second)
	if h := req.GetHeader("Session-Expires"); h != nil {
		v, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(h.Value(), ";", 2)[0]))
		if err != nil {
			return 0, nil
		}
		if v < minSE {
			return 0, errors.New("session interval too small")
		}
		want = min(want, v)
	} else if !supportsTimer(req) {
		return 0, nil
	}
	return time.Duration(max(want, minSE)) * time.Second, nil
}

func supportsTimer(req *sip.Request) bool {
	for _, h := range req.GetHeaders("Supported") {
		for _, t := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(t), "timer") {
				return true
			}
		}
	}
	return false
}

// onReInvite answers a refresh or re-INVITE inside a call with the same
// session (we do not renegotiate media).
func (g *Gateway) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	c := g.callByID(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if len(req.Body()) > 0 {
		if o, err := sdp.Parse(req.Body()); err != nil || o.Addr != c.remoteAddr() {
			// A changed address or codec would need a new stream.
			respond(tx, req, 488, "Not Acceptable Here")
			return
		}
	}
	c.refresh()
	res := sip.NewSDPResponseFromRequest(req, c.answer)
	for _, h := range c.timerHeaders() {
		res.AppendHeader(h)
	}
	res.AppendHeader(c.g.contact(c.transport))
	_ = tx.Respond(res)
}

// contact is our Contact for a transport.
func (g *Gateway) contact(transport string) *sip.ContactHeader {
	ap := g.Addr(transport)
	u := sip.Uri{User: "conclave", Host: ap.Addr().String(), Port: int(ap.Port())}
	if transport != "udp" {
		u.UriParams = sip.HeaderParams{}
		u.UriParams.Add("transport", transport)
	}
	return &sip.ContactHeader{Address: u}
}

// callerOf labels the caller from what we can trust: the authenticated
// user of a desk phone, or the number a trunk asserts (P-Asserted-Identity,
// RFC 3325, else From). Characters outside a small set are dropped so a
// caller cannot write arbitrary text into members' rosters.
func callerOf(req *sip.Request, who identity, gateway string) Caller {
	if !who.trunk {
		return Caller{Identity: "sip:" + who.user, Gateway: gateway}
	}
	user := ""
	if h := req.GetHeader("P-Asserted-Identity"); h != nil {
		var u sip.Uri
		v := strings.TrimSpace(h.Value())
		if i := strings.IndexByte(v, '<'); i >= 0 {
			v = strings.TrimSuffix(v[i+1:], ">")
			if j := strings.IndexByte(v, '>'); j >= 0 {
				v = v[:j]
			}
		}
		if sip.ParseUri(v, &u) == nil {
			user = u.User
		}
	}
	if user == "" && req.From() != nil {
		user = req.From().Address.User
	}
	user = clean(user)
	switch {
	case user == "":
		return Caller{Identity: "unknown number via trunk " + who.addr.String(), Gateway: gateway}
	case isNumber(user):
		return Caller{Identity: user, Gateway: gateway}
	}
	return Caller{Identity: "sip:" + user, Gateway: gateway}
}

func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("+-._*#", r) {
			b.WriteRune(r)
		}
		if b.Len() >= 48 {
			break
		}
	}
	return b.String()
}

func isNumber(s string) bool {
	for i, r := range s {
		if !(r >= '0' && r <= '9' || r == '+' && i == 0) {
			return false
		}
	}
	return s != "+"
}
