package itest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/rtp"

	"conclave/clients/bot"
	"conclave/e2ee/dsproto"
	"conclave/e2ee/mls"
	"conclave/e2ee/session"
	"conclave/e2ee/sframe"
	"conclave/signaling/token"
)

// Integration tests of E2EE meetings (issue "E2EE meetings"): Go bots, the
// real /e2ee delivery service, /rtc and the SFU over loopback.

// e2eeConfig is a bot configuration that waits until it is a member.
func (s *server) e2eeConfig(name string) bot.Config {
	cfg := s.config(name)
	cfg.E2EE.WaitJoined = true
	cfg.E2EE.JoinTimeout = 45 * time.Second
	return cfg
}

// startBots joins n bots concurrently, each delay after the previous.
func (s *server) startBots(link, prefix string, n int, delay time.Duration, tweak func(*bot.Config)) []*bot.Bot {
	s.t.Helper()
	bots := make([]*bot.Bot, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cfg := s.e2eeConfig(fmt.Sprintf("%s%02d", prefix, i))
		cfg.ConnectTimeout = 60 * time.Second
		if tweak != nil {
			tweak(&cfg)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The bot lives as long as this context: until the test ends.
			bots[i], errs[i] = bot.Join(s.t.Context(), link, cfg)
		}()
		time.Sleep(delay) // staggered arrivals, not a synchronisation
	}
	wg.Wait()
	for i, b := range bots {
		if b != nil {
			s.t.Cleanup(b.Close)
		}
		if errs[i] != nil {
			s.t.Fatalf("bot %d: %v", i, errs[i])
		}
	}
	return bots
}

// sameEpoch reports whether every bot shows the same epoch, code and a
// roster of n members.
func sameEpoch(n int, bots ...*bot.Bot) func() bool {
	return func() bool {
		e0 := bots[0].E2EE()
		for _, b := range bots {
			e := b.E2EE()
			if e.EpochNumber() != e0.EpochNumber() || e.SecurityCode() != e0.SecurityCode() || len(e.Roster()) != n {
				return false
			}
		}
		return true
	}
}

// tripwire counts bytes seen at a server hook and any marker among them.
type tripwire struct {
	name    string
	bytes   atomic.Int64
	packets atomic.Int64
	hits    atomic.Int64
	first   atomic.Value // string: where the marker was first seen
}

func (w *tripwire) scan(where string, b []byte) {
	w.packets.Add(1)
	w.bytes.Add(int64(len(b)))
	if bytes.Contains(b, bot.Marker[:]) {
		if w.hits.Add(1) == 1 {
			w.first.Store(where)
		}
	}
}

func (w *tripwire) check(t *testing.T) {
	t.Helper()
	if w.packets.Load() == 0 {
		t.Errorf("%s tripwire saw nothing: the hook is not wired", w.name)
	}
	if n := w.hits.Load(); n != 0 {
		t.Errorf("%s saw the plaintext marker %d times (first in %v)", w.name, n, w.first.Load())
	}
	t.Logf("%s tripwire: %d messages, %d bytes, no marker", w.name, w.packets.Load(), w.bytes.Load())
}

// rejected is a waitFor condition: b's E2EE session has rejected a message
// with an error that is target.
func rejected(b *bot.Bot, target error) func() bool {
	return func() bool {
		for _, r := range b.E2EE().Rejections() {
			if errors.Is(r.Err, target) {
				return true
			}
		}
		return false
	}
}

// TestE2EETripwire runs a whole meeting (join, speak, chat, leave, rejoin)
// with a marker in every plaintext frame and chat message, and checks that
// neither the SFU nor the delivery service ever handles a byte sequence
// holding it; at the SFU, audio packets carry only the Opus TOC byte and an
// SFrame header in the clear (THREAT_MODEL.md, "Clear bytes in media frames").
func TestE2EETripwire(t *testing.T) {
	s := startServer(t)
	sfuWire, dsWire := &tripwire{name: "SFU"}, &tripwire{name: "delivery service"}
	var audioPackets, badHeaders atomic.Int64
	obs := func(direction string, b []byte) {
		sfuWire.scan(direction, b)
		var p rtp.Packet
		if p.Unmarshal(b) != nil || p.PayloadType != 111 || len(p.Payload) < 2 {
			return
		}
		audioPackets.Add(1)
		// Opus: TOC byte, then the SFrame header (KID: leaf and epoch
		// bits, CTR), then ciphertext.
		h, _, err := sframe.ParseHeader(p.Payload[1:])
		if ctx, _, _ := sframe.DefaultKIDLayout.Split(h.KID); err != nil || ctx != 0 {
			badHeaders.Add(1)
		}
	}
	s.sfuObserve.Store(&obs)
	s.ds.Observe(func(direction string, b []byte) { dsWire.scan(direction, b) })
	defer s.ds.Observe(nil)

	link := s.newMeeting()
	bots := s.startBots(link, "speaker", 3, 200*time.Millisecond, nil)
	waitFor(t, 20*time.Second, "everyone decrypts everyone", allReceive(5, 3, bots...), bots...)
	waitFor(t, 10*time.Second, "one epoch", sameEpoch(3, bots...), bots...)

	chat := "hello " + string(bot.Marker[:])
	sendChat := func(from *bot.Bot, to ...*bot.Bot) {
		t.Helper()
		want := fmt.Sprintf("%s from %s", chat, identity(from))
		if err := from.E2EE().SendChat(want); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "chat delivered", func() bool {
			for _, b := range to {
				got := false
				for _, c := range b.E2EE().Chats() {
					got = got || c.Text == want
				}
				if !got {
					return false
				}
			}
			return true
		})
	}
	sendChat(bots[0], bots[1], bots[2])
	sendChat(bots[2], bots[0], bots[1])

	// Leave: the DS removes the departed member; the others rekey.
	before := bots[0].E2EE().EpochNumber()
	bots[2].Leave()
	rest := bots[:2]
	waitFor(t, 15*time.Second, "rekey after a departure", func() bool {
		return bots[0].E2EE().EpochNumber() > before && sameEpoch(2, rest...)()
	}, rest...)

	// Rejoin: a participant comes back with the link.
	back := s.startBots(link, "back", 1, 0, nil)[0]
	all := append(rest, back)
	waitFor(t, 20*time.Second, "rejoined participant exchanges media", allReceive(5, 3, all...), all...)
	sendChat(back, rest...)
	sendChat(bots[1], bots[0], back)

	for _, b := range all {
		if r := b.Report(); r.DecryptFailures != 0 {
			t.Errorf("%s: %d decrypt failures", r.Identity, r.DecryptFailures)
		}
		if rj := b.E2EE().Rejections(); len(rj) != 0 {
			t.Errorf("%s rejected %v", identity(b), rj)
		}
	}
	sfuWire.check(t)
	dsWire.check(t)
	if audioPackets.Load() == 0 || badHeaders.Load() != 0 {
		t.Errorf("%d audio packets at the SFU, %d without a well-formed SFrame header after the TOC byte", audioPackets.Load(), badHeaders.Load())
	}
}

// mitm sits between the bots and the delivery service: it relays both ways,
// records the group's public framing, and lets a test speak as the server.
type mitm struct {
	s        *server
	verifier *token.Verifier

	mu      sync.Mutex
	conns   map[string]*mitmConn // by participant identity
	groupID []byte
	epoch   uint64
	// steal, when set, keeps a joiner's KeyPackage from the DS and hands
	// it to the test instead.
	steal func(identity string, kp []byte) bool
}

type mitmConn struct {
	wmu    sync.Mutex
	client *websocket.Conn
}

func newMITM(s *server) *mitm {
	m := &mitm{s: s, verifier: token.NewVerifier(apiKey, s.key), conns: map[string]*mitmConn{}}
	var h http.Handler = m
	s.e2ee.Store(&h)
	return m
}

func (m *mitm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	claims, err := m.verifier.Verify(r.URL.Query().Get("access_token"), time.Now())
	if err != nil {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	up := "ws" + strings.TrimPrefix(m.s.base, "http") + "/e2ee-direct?" + r.URL.RawQuery
	server, _, err := websocket.DefaultDialer.Dial(up, nil)
	if err != nil {
		http.Error(w, "upstream", http.StatusBadGateway)
		return
	}
	u := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	client, err := u.Upgrade(w, r, nil)
	if err != nil {
		server.Close()
		return
	}
	mc := &mitmConn{client: client}
	m.mu.Lock()
	m.conns[claims.Identity] = mc
	m.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // client -> DS
		defer wg.Done()
		defer server.Close()
		for {
			_, b, err := client.ReadMessage()
			if err != nil {
				return
			}
			if msg, err := dsproto.Unmarshal(b); err == nil {
				if kp, ok := msg.(*dsproto.KeyPackage); ok {
					m.mu.Lock()
					steal := m.steal
					m.mu.Unlock()
					if steal != nil && steal(claims.Identity, kp.KeyPackage) {
						continue
					}
				}
			}
			if server.WriteMessage(websocket.BinaryMessage, b) != nil {
				return
			}
		}
	}()
	go func() { // DS -> client
		defer wg.Done()
		defer client.Close()
		for {
			_, b, err := server.ReadMessage()
			if err != nil {
				return
			}
			m.note(b)
			mc.wmu.Lock()
			err = client.WriteMessage(websocket.BinaryMessage, b)
			mc.wmu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	wg.Wait()
}

// note records the group ID and epoch from what the DS sends.
func (m *mitm) note(b []byte) {
	msg, err := dsproto.Unmarshal(b)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch msg := msg.(type) {
	case *dsproto.ServerHello:
		if len(msg.GroupID) > 0 {
			m.groupID = bytes.Clone(msg.GroupID)
		}
	case *dsproto.Handshake:
		if info, err := mls.InspectMessage(msg.Message); err == nil && info.ContentType == mls.ContentCommit {
			m.groupID, m.epoch = bytes.Clone(info.GroupID), info.Epoch+1
		}
	}
}

// inject sends msg to a participant as if the DS had.
func (m *mitm) inject(t *testing.T, identity string, msg dsproto.Message) {
	t.Helper()
	b, err := dsproto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	mc := m.conns[identity]
	m.mu.Unlock()
	if mc == nil {
		t.Fatalf("no /e2ee connection of %s", identity)
	}
	mc.wmu.Lock()
	defer mc.wmu.Unlock()
	if err := mc.client.WriteMessage(websocket.BinaryMessage, b); err != nil {
		t.Fatal(err)
	}
}

func (m *mitm) group() ([]byte, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.groupID, m.epoch
}

// externalAdd frames an Add proposal signed as the external sender 0 (the
// DS) with key: the one proposal type Conclave's DS must never get through
// (RFC 9420, Sections 6 and 12.1.8). package mls builds only Removes.
func externalAdd(t *testing.T, groupID []byte, epoch uint64, key *mls.SignatureKey, kp *mls.KeyPackage) []byte {
	t.Helper()
	vec := func(b []byte) []byte { // opaque<V>, lengths below 16384
		if len(b) < 64 {
			return append([]byte{byte(len(b))}, b...)
		}
		return append([]byte{byte(len(b)>>8) | 0x40, byte(len(b))}, b...)
	}
	var c []byte
	c = append(c, vec(groupID)...)
	c = binary.BigEndian.AppendUint64(c, epoch)
	c = append(c, byte(mls.SenderExternal), 0, 0, 0, 0)
	c = append(c, vec(nil)...)
	c = append(c, byte(mls.ContentProposal))
	c = binary.BigEndian.AppendUint16(c, uint16(mls.ProposalAdd))
	c = append(c, kp.Bytes()[4:]...)
	tbs := append([]byte{0, 1, 0, byte(mls.WireFormatPublicMessage)}, c...)
	signContent := append(vec([]byte("MLS 1.0 FramedContentTBS")), vec(tbs)...)
	seed, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	priv := ed25519.PrivateKey(seed)
	if len(seed) == ed25519.SeedSize {
		priv = ed25519.NewKeyFromSeed(seed)
	}
	msg := append([]byte{0, 1, 0, byte(mls.WireFormatPublicMessage)}, c...)
	return append(msg, vec(ed25519.Sign(priv, signContent))...)
}

// rogueKeyPackage is a listener's KeyPackage with a harmless-looking name.
func rogueKeyPackage(t *testing.T) *mls.KeyPackageBundle {
	t.Helper()
	cred, err := session.Identity{Participant: "P_ROGUE", DisplayName: "Note taker", Kind: session.KindBrowser}.Credential()
	if err != nil {
		t.Fatal(err)
	}
	sk, err := mls.GenerateSignatureKey(session.CipherSuite, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := mls.NewKeyPackage(mls.KeyPackageOptions{CipherSuite: session.CipherSuite, Credential: cred, SignatureKey: sk}, mls.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// rogueGroup is a group the server makes itself, with the real group's ID
// and the DS as external sender, at epoch.
func rogueGroup(t *testing.T, s *server, groupID []byte, epoch uint64) *mls.Group {
	t.Helper()
	ext, err := mls.ExternalSendersExtension([][]byte{s.dsKey.PublicKey()}, []mls.Credential{mls.BasicCredential([]byte("conclave-ds"))})
	if err != nil {
		t.Fatal(err)
	}
	g, err := mls.CreateGroup(groupID, rogueKeyPackage(t), mls.GroupOptions{Extensions: []mls.Extension{ext}}, mls.Config{PublicHandshake: true})
	if err != nil {
		t.Fatal(err)
	}
	for g.Epoch() < epoch {
		if _, err := g.Commit(mls.CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := g.MergePendingCommit(); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// TestE2EEServerCannotAddMember: the server proposes an Add as external
// sender, sends a commit it signed itself, and forges a Welcome for a
// joiner; every client refuses, and the meeting goes on.
func TestE2EEServerCannotAddMember(t *testing.T) {
	s := startServer(t)
	m := newMITM(s)
	link := s.newMeeting()
	bots := s.startBots(link, "member", 3, 200*time.Millisecond, nil)
	waitFor(t, 20*time.Second, "media", allReceive(5, 3, bots...), bots...)
	waitFor(t, 10*time.Second, "one epoch", sameEpoch(3, bots...), bots...)
	epoch, code := bots[0].E2EE().EpochNumber(), bots[0].E2EE().SecurityCode()
	groupID, dsEpoch := m.group()
	if dsEpoch != epoch || len(groupID) == 0 {
		t.Fatalf("man in the middle saw epoch %d and group %x, members are at %d", dsEpoch, groupID, epoch)
	}

	addProposal := externalAdd(t, groupID, epoch, s.dsKey, rogueKeyPackage(t).KeyPackage())
	rg := rogueGroup(t, s, groupID, epoch)
	forged, err := rg.Commit(mls.CommitOptions{Add: []*mls.KeyPackage{rogueKeyPackage(t).KeyPackage()}})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bots {
		m.inject(t, identity(b), &dsproto.Handshake{Seq: uint64(1000 + 2*i), Message: addProposal})
		m.inject(t, identity(b), &dsproto.Handshake{Seq: uint64(1001 + 2*i), Message: forged.Commit})
	}
	waitFor(t, 10*time.Second, "every member refuses both", func() bool {
		for _, b := range bots {
			if len(b.E2EE().Rejections()) < 2 {
				return false
			}
		}
		return true
	}, bots...)
	for _, b := range bots {
		rj := b.E2EE().Rejections()
		if !errors.Is(rj[0].Err, mls.ErrRejectedByPolicy) || !errors.Is(rj[1].Err, mls.ErrAuthentication) {
			t.Errorf("%s rejected %v, want the external Add by policy and the forged commit as unauthenticated", identity(b), rj)
		}
	}

	// A Welcome forged for a joiner into the server's own group: the joiner
	// holds the link secret and waits for a member's attestation, which the
	// server cannot make, so it never sends a frame or a chat message.
	stolen := make(chan []byte, 1)
	m.mu.Lock()
	m.steal = func(_ string, kp []byte) bool {
		select {
		case stolen <- bytes.Clone(kp):
		default:
		}
		return true
	}
	m.mu.Unlock()
	vcfg := s.config("victim")
	victim := s.join(link, vcfg)
	kpBytes := <-stolen
	kp, err := mls.ParseKeyPackage(kpBytes)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rg.Commit(mls.CommitOptions{Add: []*mls.KeyPackage{kp}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rg.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	m.inject(t, identity(victim), &dsproto.MLSWelcome{Welcome: res.Welcome})
	// ... and a fake attestation sealed in the fake group.
	fake, err := rg.Seal([]byte(`{"type":"attest","leaf":1,"mac":"`+base64.StdEncoding.EncodeToString(make([]byte, 32))+`"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "victim processes the forged Welcome", func() bool { return victim.E2EE().EpochNumber() > 0 }, victim)
	m.inject(t, identity(victim), &dsproto.RelayedApplication{Message: fake, Participant: []byte("P_ROGUE")})
	waitFor(t, 10*time.Second, "victim refuses the fake attestation", rejected(victim, session.ErrAdmission), victim)
	if r := victim.Report(); r.FramesSent != 0 || r.SealFailures == 0 {
		t.Errorf("victim of a forged Welcome sent %d frames (%d refused to seal); want none sent", r.FramesSent, r.SealFailures)
	}
	if err := victim.E2EE().SendChat("secret " + string(bot.Marker[:])); err == nil {
		t.Error("victim of a forged Welcome could chat")
	}

	// The meeting goes on, unchanged.
	m.mu.Lock()
	m.steal = nil
	m.mu.Unlock()
	counts := map[*bot.Bot]uint64{}
	for _, b := range bots {
		counts[b] = b.Report().FramesDecrypted
		if e := b.E2EE(); e.EpochNumber() != epoch || e.SecurityCode() != code || len(e.Roster()) != 3 {
			t.Errorf("%s: epoch %d (was %d), roster %d", identity(b), e.EpochNumber(), epoch, len(e.Roster()))
		}
	}
	waitFor(t, 10*time.Second, "media keeps flowing", func() bool {
		for _, b := range bots {
			if b.Report().FramesDecrypted < counts[b]+50 {
				return false
			}
		}
		return true
	}, bots...)
	if err := bots[1].E2EE().SendChat("still here"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "chat after the attacks", func() bool { return len(bots[0].E2EE().Chats()) > 0 }, bots...)
}

// TestE2EELobby: a joiner without the secret, and one with a wrong secret,
// wait in the lobby every member sees and receive nothing (no media, not even
// ciphertext, no chat) until a member admits them.
func TestE2EELobby(t *testing.T) {
	s := startServer(t)
	link := s.newMeeting()
	members := s.startBots(link, "member", 2, 200*time.Millisecond, nil)
	waitFor(t, 20*time.Second, "media", allReceive(5, 3, members...), members...)

	kcfg := s.config("knocker")
	kcfg.E2EE.Knock = true
	knocker := s.join(link, kcfg)
	wrongLink := link[:strings.LastIndex(link, "#")+1] + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{9}, 16))
	wrong := s.join(wrongLink, s.config("wrong-secret"))

	a := members[0].E2EE()
	waitFor(t, 10*time.Second, "both in every member's lobby", func() bool {
		for _, m := range members {
			if len(m.E2EE().Lobby()) != 2 {
				return false
			}
		}
		return true
	}, members...)
	byName := map[string]session.LobbyEntry{}
	for _, e := range a.Lobby() {
		byName[e.Identity.DisplayName] = e
	}
	if k, w := byName["knocker"], byName["wrong-secret"]; k.BadProof || !w.BadProof || k.Identity.Kind != session.KindBot {
		t.Fatalf("lobby entries: %+v", a.Lobby())
	}
	if err := a.SendChat("members only " + string(bot.Marker[:])); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "chat among members", func() bool { return len(members[1].E2EE().Chats()) == 1 })
	before := members[0].Report().FramesDecrypted
	waitFor(t, 10*time.Second, "members keep talking", func() bool { return members[0].Report().FramesDecrypted > before+100 })
	for _, j := range []*bot.Bot{knocker, wrong} {
		r := j.Report()
		if r.PacketsReceived != 0 || r.FramesReceived != 0 || r.FramesSent != 0 || len(j.E2EE().Chats()) != 0 || len(j.E2EE().Roster()) != 0 {
			t.Errorf("%s in the lobby: %d packets, %d frames received, %d sent, %d chats, roster %d",
				r.Name, r.PacketsReceived, r.FramesReceived, r.FramesSent, len(j.E2EE().Chats()), len(j.E2EE().Roster()))
		}
	}

	// Admitted, the knocker joins the group and the media.
	if err := a.Admit(byName["knocker"].Ref); err != nil {
		t.Fatal(err)
	}
	three := append(members, knocker)
	waitFor(t, 20*time.Second, "admitted knocker exchanges media", allReceive(5, 3, three...), three...)
	if knocker.E2EE().SecurityCode() != a.SecurityCode() {
		t.Error("admitted knocker shows another security code")
	}

	// Admitted, the wrong-secret joiner can decrypt but cannot verify the
	// group with its secret: it sends nothing and says why.
	if err := a.Admit(byName["wrong-secret"].Ref); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "wrong-secret joiner refuses the attestation", rejected(wrong, session.ErrAdmission), wrong)
	if r := wrong.Report(); r.FramesSent != 0 {
		t.Errorf("wrong-secret joiner sent %d frames", r.FramesSent)
	}
}

// TestE2EELobbyRefused: a knocker a member refuses is told so, and its bot
// says why it never joined.
func TestE2EELobbyRefused(t *testing.T) {
	s := startServer(t)
	link := s.newMeeting()
	members := s.startBots(link, "member", 1, 0, nil)
	kcfg := s.config("knocker")
	kcfg.E2EE.Knock = true
	knocker := s.join(link, kcfg)
	a := members[0].E2EE()
	waitFor(t, 20*time.Second, "knocker in the lobby", func() bool { return len(a.Lobby()) == 1 }, members...)
	if err := a.Refuse(a.Lobby()[0].Ref); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := knocker.E2EE().WaitJoined(ctx); !errors.Is(err, bot.ErrRefused) {
		t.Fatalf("refused knocker: WaitJoined = %v, want ErrRefused", err)
	}
	if r := knocker.Report(); r.FramesDecrypted != 0 || r.FramesSent != 0 {
		t.Errorf("refused knocker sent %d and decrypted %d frames", r.FramesSent, r.FramesDecrypted)
	}
}

// TestE2EERemovedMemberCannotDecrypt: a member removed by an admin keeps its
// old state and listens to every audio packet the SFU handles afterwards:
// it opens none of those sent under the new epoch.
func TestE2EERemovedMemberCannotDecrypt(t *testing.T) {
	s := startServer(t)
	link := s.newMeeting()
	room := s.credentials(link).Room
	bots := s.startBots(link, "member", 3, 200*time.Millisecond, nil)
	waitFor(t, 20*time.Second, "media", allReceive(5, 3, bots...), bots...)
	waitFor(t, 10*time.Second, "one epoch", sameEpoch(3, bots...), bots...)
	a, gone := bots[0], bots[2]
	old := a.E2EE().EpochNumber()

	var mu sync.Mutex
	var after [][]byte // audio payloads of the new epoch
	obs := func(_ string, b []byte) {
		var p rtp.Packet
		if p.Unmarshal(b) != nil || p.PayloadType != 111 || len(p.Payload) < 2 {
			return
		}
		h, _, err := sframe.ParseHeader(p.Payload[1:])
		if err != nil {
			return
		}
		if _, _, ep := sframe.DefaultKIDLayout.Split(h.KID); ep != (old+1)%16 {
			return
		}
		mu.Lock()
		after = append(after, bytes.Clone(p.Payload))
		mu.Unlock()
	}
	s.sfuObserve.Store(&obs)

	if err := s.ds.Remove(room, identity(gone)); err != nil {
		t.Fatal(err)
	}
	rest := bots[:2]
	waitFor(t, 10*time.Second, "rekey after the removal", func() bool {
		return a.E2EE().EpochNumber() > old && sameEpoch(2, rest...)()
	}, rest...)
	waitFor(t, 10*time.Second, "frames of the new epoch", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(after) >= 50
	})
	mu.Lock()
	frames := after
	mu.Unlock()
	opened := 0
	for _, f := range frames {
		if _, err := gone.E2EE().Open(nil, bot.KindAudio, f); err == nil {
			opened++
		} else if !errors.Is(err, sframe.ErrUnknownKey) {
			t.Errorf("removed member: %v, want no key for the new epoch", err)
			break
		}
	}
	if opened != 0 {
		t.Fatalf("removed member decrypted %d of %d frames sent after its removal", opened, len(frames))
	}
	if err := a.E2EE().SendChat("after removal"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "chat", func() bool { return len(bots[1].E2EE().Chats()) == 1 })
	if n := len(gone.E2EE().Chats()); n != 0 {
		t.Errorf("removed member received %d chats", n)
	}
}

// TestE2EEFiftyJoinersConverge: 50 bots joining within a few seconds end in
// one epoch with one security code and a roster of 50. Concurrent joiners
// make members commit concurrently; the DS takes one commit per epoch and
// the others rebase, so the group never forks.
func TestE2EEFiftyJoinersConverge(t *testing.T) {
	s := startServer(t)
	link := s.newMeeting()
	bots := s.startBots(link, "b", 50, 60*time.Millisecond, func(c *bot.Config) {
		c.NoAudio, c.NoVideo = true, true
	})
	waitFor(t, 60*time.Second, "50 bots in one epoch", sameEpoch(50, bots...), bots...)
	for _, b := range bots {
		if rj := b.E2EE().Rejections(); len(rj) != 0 {
			t.Errorf("%s rejected %v", identity(b), rj)
		}
	}
	t.Logf("50 bots converged on epoch %d", bots[0].E2EE().EpochNumber())
}
