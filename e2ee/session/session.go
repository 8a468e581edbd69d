package session

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"conclave/e2ee/mls"
	"conclave/e2ee/sframe"
)

// Cipher suites (docs/e2ee-protocol.md, "Keys and codes").
const (
	CipherSuite = mls.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
	MediaSuite  = sframe.AES128GCMSHA256_128
)

// Sentinel errors.
var (
	// ErrState: the call does not fit the session's state (for example
	// sending chat before joining).
	ErrState = errors.New("session: not possible in this state")
	// ErrProtocol: the DS sent something the protocol does not allow.
	ErrProtocol = errors.New("session: protocol violation by the delivery service")
	// ErrUnknownJoiner: Admit or Refuse named no waiting joiner.
	ErrUnknownJoiner = errors.New("session: no such joiner in the lobby")
)

// Timing holds the protocol's delays (docs/e2ee-protocol.md, "Client
// behaviour"). The zero value of a field means its default.
type Timing struct {
	// BatchDelay: how long the committer waits to batch Adds and Removes
	// that appear within BatchDelay of an epoch change (a join storm).
	// Work in a quiet epoch is committed at once.
	BatchDelay time.Duration
	// CommitTimeout: the member of rank r takes over when nothing was
	// committed within BatchDelay + r × CommitTimeout of the work appearing;
	// it also bounds the wait for the DS's answer to a commit.
	CommitTimeout time.Duration
	// EpochGrace: how long the previous epoch's media keys keep decrypting
	// after this client processed a commit (RFC 9605, Section 5.2 leaves
	// it to the application).
	EpochGrace time.Duration
}

// Defaults of Timing.
const (
	DefaultBatchDelay    = 200 * time.Millisecond
	DefaultCommitTimeout = 2 * time.Second
	DefaultEpochGrace    = 10 * time.Second
)

func (t Timing) withDefaults() Timing {
	if t.BatchDelay <= 0 {
		t.BatchDelay = DefaultBatchDelay
	}
	if t.CommitTimeout <= 0 {
		t.CommitTimeout = DefaultCommitTimeout
	}
	if t.EpochGrace <= 0 {
		t.EpochGrace = DefaultEpochGrace
	}
	return t
}

// Config says who the client is and what link it came with.
type Config struct {
	Identity Identity
	// RoomID is the room part of the meeting link (never sent to the
	// server after /api/join); it names the room in the admission key.
	RoomID string
	// LinkSecret is the 16-byte fragment secret; nil means knock and wait
	// in the lobby.
	LinkSecret []byte
	Timing     Timing
	// Rand is the source of randomness; nil means crypto/rand.Reader.
	Rand io.Reader
	// Logger gets protocol-level logs (epochs, sizes, decisions), never
	// keys, secrets or content; nil discards.
	Logger *slog.Logger
	// ForbidPhones puts ExtensionPhonesForbidden in the group context if
	// this client creates the group (see phones.go).
	ForbidPhones bool
}

type phase uint8

const (
	phaseNew     phase = iota // Start not called
	phaseHello                // Hello sent, waiting for the DS's hello
	phaseJoining              // KeyPackage sent, waiting for a Welcome
	phaseMember               // in the group
	phaseRemoved              // removed, or left
	phaseRefused              // refused from the lobby
)

// admitted is a KeyPackage this client saw in a JoinRequest, with a valid
// proof or from the lobby; only these may be added by a commit.
type admitted struct {
	kp          *mls.KeyPackage
	participant string
	identity    Identity
	proofOK     bool
	proof       []byte // as received, when it verified
	badProof    bool   // a proof was sent and did not verify
	// queued: this client wants it added (valid proof, or a member
	// admitted it here).
	queued bool
	// mine: admitted from the lobby by this client, which then commits it
	// without waiting for its rank.
	mine bool
}

// Session is the client side of an E2EE meeting: one member's MLS group,
// admission, committing, media keying and chat. It performs no I/O and starts
// no goroutines: feed it the DS's messages and the clock, send what it
// returns, show the events. A Session is not safe for concurrent use; its
// Receiver is.
type Session struct {
	cfg    Config
	timing Timing
	log    *slog.Logger
	rand   io.Reader
	adm    *admissionKey // nil when knocking

	phase  phase
	dsKey  []byte
	dsCred []byte
	kp     *mls.KeyPackageBundle // while joining
	kpRef  []byte
	group  *mls.Group

	// joiners by hex KeyPackageRef: every JoinRequest seen in this session.
	joiners map[string]*admitted
	// pendingRemoves are leaves an accepted external Remove proposal names
	// in the current epoch; lastPolicyRemove carries one out of the policy.
	pendingRemoves   map[uint32]bool
	lastPolicyRemove *uint32
	// carried are DS Removes of earlier epochs that a commit missed (it was
	// made before the proposal arrived): leaf -> the member's signature
	// key, so a reused leaf is never removed by mistake. The next commit
	// removes them explicitly.
	carried map[uint32][]byte
	// workSince is when committing work appeared in this epoch (zero: none).
	workSince time.Time
	// epochSince is when this client entered the current epoch.
	epochSince time.Time
	// commitSent is when our commit went to the DS (zero: none in flight).
	commitSent time.Time
	chatQueue  [][]byte
	// unattested: this joiner holds the link secret and has not yet seen
	// a member prove the group knows it; it sends no media or chat.
	unattested bool
	attestAt   time.Time // when to ask again for an attestation
	// addedBy maps a leaf added in this epoch to the leaf that committed it.
	addedBy map[uint32]uint32

	receiver *sframe.MLSReceiver
	sender   *sframe.Sender
	code     string

	out    []any
	events []Event
}

// New returns a session; call Start to say hello to the DS.
func New(cfg Config) (*Session, error) {
	if err := cfg.Identity.Validate(); err != nil {
		return nil, err
	}
	s := &Session{
		cfg:            cfg,
		timing:         cfg.Timing.withDefaults(),
		log:            cfg.Logger,
		rand:           cfg.Rand,
		joiners:        map[string]*admitted{},
		pendingRemoves: map[uint32]bool{},
		addedBy:        map[uint32]uint32{},
		carried:        map[uint32][]byte{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if cfg.LinkSecret != nil {
		k, err := newAdmissionKey(cfg.LinkSecret, cfg.RoomID)
		if err != nil {
			return nil, err
		}
		s.adm = k
	}
	r, err := sframe.NewMLSReceiver(MediaSuite, sframe.DefaultKIDLayout, s.timing.EpochGrace)
	if err != nil {
		return nil, fmt.Errorf("session: media receiver: %w", err)
	}
	s.receiver = r
	return s, nil
}

// mlsConfig is the group configuration of every Conclave client: handshakes
// as PublicMessage so the DS can sequence them by epoch and sender, only
// Remove from the DS accepted from outside the group, credentials checked
// as ConclaveIdentity.
func (s *Session) mlsConfig() mls.Config {
	return mls.Config{
		Rand:              s.rand,
		Validator:         validator{dsCredential: s.dsCred},
		PublicHandshake:   true,
		ExternalProposals: s.externalPolicy,
	}
}

// externalPolicy is mls.AllowExternalRemoveOnly, and additionally requires
// the sender to be the DS (external sender 0), noting the removed leaf.
func (s *Session) externalPolicy(p mls.ExternalProposal) error {
	if err := mls.AllowExternalRemoveOnly(p); err != nil {
		return err
	}
	if p.SenderIndex != 0 {
		return fmt.Errorf("external sender %d is not the delivery service", p.SenderIndex)
	}
	leaf := p.Removed
	s.lastPolicyRemove = &leaf
	return nil
}

// Output is what a call produced: messages to send to the DS, in order, and
// events for the user interface.
type Output struct {
	Send   [][]byte
	Events []Event
}

func (s *Session) flush() Output {
	o := Output{Events: s.events}
	for _, m := range s.out {
		b, err := encode(m)
		if err != nil {
			// Only oversized values fail to encode; report, don't send.
			o.Events = append(o.Events, Rejected{What: "encode outgoing message", Err: err})
			continue
		}
		o.Send = append(o.Send, b)
	}
	s.out, s.events = nil, nil
	return o
}

func (s *Session) emit(e Event) { s.events = append(s.events, e) }
func (s *Session) send(m any)   { s.out = append(s.out, m) }
func (s *Session) reject(what string, err error) {
	s.log.Warn("session: rejected", "what", what, "err", err)
	s.emit(Rejected{What: what, Err: err})
}

// Start sends the Hello: with a group (restored state) it asks to resume.
func (s *Session) Start(now time.Time) Output {
	h := outHello{}
	if s.group != nil && s.group.Active() {
		h = outHello{haveEpoch: s.group.Epoch(), groupID: s.group.GroupID(), leaf: s.group.OwnLeaf()}
		s.phase = phaseMember
	} else {
		s.phase = phaseHello
	}
	s.send(h)
	return s.flush()
}

// Handle processes one message from the DS. It returns an error only when
// the bytes are not a valid message; everything the session refuses for
// security reasons is a Rejected event and the session goes on.
func (s *Session) Handle(data []byte, now time.Time) (Output, error) {
	m, err := decode(data)
	if err != nil {
		return s.flush(), err
	}
	switch m := m.(type) {
	case inHello:
		err = s.onHello(m, now)
	case inJoinRequest:
		s.onJoinRequest(m, now)
	case inHandshake:
		s.onHandshake(m, now)
	case inCommitResult:
		s.onCommitResult(m, now)
	case inWelcome:
		s.onWelcome(m, now)
	case inApplication:
		s.onApplication(m)
	case inLobby:
		s.onLobby(m)
	case inLobbyGone:
		s.onLobbyGone(m)
	case inError:
		s.emit(ServerError{Code: m.code, Text: m.text})
	case inRefreshToken:
		// Passed through, not kept: the session's state (MarshalBinary)
		// holds no credential of the transport.
		s.emit(TokenRefreshed{Token: m.token})
	}
	s.tick(now)
	return s.flush(), err
}

func (s *Session) onHello(m inHello, now time.Time) error {
	s.dsKey, s.dsCred = bytes.Clone(m.dsKey), bytes.Clone(m.dsCredential)
	switch m.role {
	case roleCreate:
		if s.adm == nil {
			// A knocker cannot open the meeting (joiners with the link
			// could not trust its group): it declines by knocking, and
			// the DS asks someone else.
			if s.phase == phaseJoining {
				return nil
			}
			return s.publishKeyPackage()
		}
		s.kp = nil
		return s.create(now)
	case roleJoin:
		if s.phase == phaseMember && s.group != nil {
			// The DS lost our resumption; join afresh (it removes the old
			// leaf after its grace period).
			s.group.ForgetPastEpochs()
			s.group = nil
		}
		return s.publishKeyPackage()
	case roleResume:
		if s.group == nil || !bytes.Equal(m.groupID, s.group.GroupID()) {
			return fmt.Errorf("%w: resume of a group this client does not hold", ErrProtocol)
		}
		s.phase = phaseMember
		return nil
	}
	return fmt.Errorf("%w: role %d", ErrProtocol, m.role)
}

func (s *Session) newKeyPackage() (*mls.KeyPackageBundle, error) {
	cred, err := s.cfg.Identity.Credential()
	if err != nil {
		return nil, err
	}
	sk, err := mls.GenerateSignatureKey(CipherSuite, s.rand)
	if err != nil {
		return nil, fmt.Errorf("session: signature key: %w", err)
	}
	kp, err := mls.NewKeyPackage(mls.KeyPackageOptions{CipherSuite: CipherSuite, Credential: cred, SignatureKey: sk, SupportedExtensions: supportedExtensions}, s.mlsConfig())
	if err != nil {
		return nil, fmt.Errorf("session: key package: %w", err)
	}
	return kp, nil
}

// create makes the group: its ID carries the link secret's tag, and the
// DS is its only external sender (RFC 9420, Section 12.1.8.1).
func (s *Session) create(now time.Time) error {
	kp, err := s.newKeyPackage()
	if err != nil {
		return err
	}
	id := make([]byte, GroupIDSize)
	if _, err := io.ReadFull(s.rand, id); err != nil {
		return fmt.Errorf("session: group id: %w", err)
	}
	ext, err := mls.ExternalSendersExtension([][]byte{s.dsKey}, []mls.Credential{mls.BasicCredential(s.dsCred)})
	if err != nil {
		return fmt.Errorf("session: external senders: %w", err)
	}
	exts := []mls.Extension{ext}
	if s.cfg.ForbidPhones {
		exts = append(exts, phonesForbiddenExtension())
	}
	g, err := mls.CreateGroup(id, kp, mls.GroupOptions{Extensions: exts}, s.mlsConfig())
	if err != nil {
		return fmt.Errorf("session: create group: %w", err)
	}
	s.group = g
	s.phase = phaseMember
	s.send(outGroupCreated{groupID: id, epoch: g.Epoch()})
	s.send(outJoined{epoch: g.Epoch(), leaf: g.OwnLeaf()})
	return s.enterEpoch(now)
}

func (s *Session) publishKeyPackage() error {
	kp, err := s.newKeyPackage()
	if err != nil {
		return err
	}
	s.kp = kp
	s.kpRef = kp.KeyPackage().Ref()
	var proof []byte
	if s.adm != nil {
		proof = s.adm.proof(s.kpRef)
	}
	s.phase = phaseJoining
	s.send(outKeyPackage{keyPackage: kp.KeyPackage().Bytes(), proof: proof})
	return nil
}

// onJoinRequest verifies the joiner's proof: valid, it is queued for the
// committer; otherwise it waits in the lobby for a member.
func (s *Session) onJoinRequest(m inJoinRequest, now time.Time) {
	kp, err := mls.ParseKeyPackage(m.keyPackage)
	if err != nil {
		s.reject("join request key package", err)
		return
	}
	if !bytes.Equal(kp.Ref(), m.ref) {
		s.reject("join request", fmt.Errorf("%w: KeyPackageRef does not match the KeyPackage", ErrProtocol))
		return
	}
	if kp.CipherSuite() != CipherSuite {
		s.reject("join request", fmt.Errorf("%w: cipher suite %v", mls.ErrUnsupported, kp.CipherSuite()))
		return
	}
	id, err := ParseIdentity(kp.Credential().Identity)
	if err != nil {
		s.reject("join request identity", err)
		return
	}
	key := hex.EncodeToString(m.ref)
	if _, ok := s.joiners[key]; ok {
		return
	}
	a := &admitted{kp: kp, participant: m.participant, identity: id}
	a.proofOK = s.adm != nil && len(m.proof) > 0 && s.adm.verifyProof(m.ref, m.proof)
	a.badProof = len(m.proof) > 0 && !a.proofOK
	if a.proofOK {
		a.proof = bytes.Clone(m.proof)
	}
	a.queued = a.proofOK
	s.joiners[key] = a
	if a.queued {
		s.noteWork(now)
	} else {
		s.emitLobby()
	}
}

// Admit lets a joiner in from the lobby: this client commits its Add at
// once (any member may admit; DESIGN.md P3).
func (s *Session) Admit(ref []byte, now time.Time) (Output, error) {
	a, ok := s.joiners[hex.EncodeToString(ref)]
	if !ok || a.queued {
		return s.flush(), ErrUnknownJoiner
	}
	if s.phase != phaseMember {
		return s.flush(), ErrState
	}
	if a.identity.Kind == KindPhone && s.PhonesForbidden() {
		return s.flush(), ErrPhonesForbidden
	}
	a.queued, a.mine = true, true
	s.noteWork(now)
	s.emitLobby()
	s.tick(now)
	return s.flush(), nil
}

// Refuse turns a lobby joiner away.
func (s *Session) Refuse(ref []byte) (Output, error) {
	key := hex.EncodeToString(ref)
	a, ok := s.joiners[key]
	if !ok || a.queued {
		return s.flush(), ErrUnknownJoiner
	}
	delete(s.joiners, key)
	s.send(outRefuse{ref: bytes.Clone(ref)})
	s.emitLobby()
	return s.flush(), nil
}

func (s *Session) onLobbyGone(m inLobbyGone) {
	key := hex.EncodeToString(m.ref)
	if a, ok := s.joiners[key]; ok {
		delete(s.joiners, key)
		if !a.queued {
			s.emitLobby()
		}
	}
}

func (s *Session) onLobby(m inLobby) {
	switch m.state {
	case lobbyWaiting:
		s.emit(LobbyStatus{Waiting: true, Reason: m.reason})
	case lobbyRefused:
		s.phase = phaseRefused
		s.kp = nil
		s.emit(LobbyStatus{Refused: true, Reason: m.reason})
	case lobbyAdmitted:
		s.emit(LobbyStatus{Admitted: true, Reason: m.reason})
	}
}

// Lobby returns the joiners waiting for a member's decision.
func (s *Session) Lobby() []LobbyEntry {
	var l []LobbyEntry
	for _, a := range s.joiners {
		if !a.queued {
			l = append(l, LobbyEntry{Ref: a.kp.Ref(), Participant: a.participant, Identity: a.identity, BadProof: a.badProof})
		}
	}
	slices.SortFunc(l, func(a, b LobbyEntry) int { return bytes.Compare(a.Ref, b.Ref) })
	return l
}

func (s *Session) emitLobby() { s.emit(LobbyChanged{Waiting: s.Lobby()}) }

// onWelcome joins the group a Welcome brings this client into (RFC 9420,
// Section 12.4.3.1). A joiner holding the link secret then waits for a
// member's attestation (attest.go) before it sends anything: a server can
// forge a Welcome into a group of its own, but not the attestation.
func (s *Session) onWelcome(m inWelcome, now time.Time) {
	if s.phase != phaseJoining || s.kp == nil {
		s.reject("welcome", fmt.Errorf("%w: not waiting for a Welcome", ErrProtocol))
		return
	}
	g, err := mls.JoinFromWelcome(m.welcome, s.kp, mls.JoinOptions{}, s.mlsConfig())
	if err != nil {
		s.reject("welcome", err)
		return
	}
	if err := s.checkExternalSenders(g); err != nil {
		s.reject("welcome", err)
		return
	}
	s.group = g
	s.kp = nil
	s.phase = phaseMember
	s.unattested = s.adm != nil
	s.send(outJoined{epoch: g.Epoch(), leaf: g.OwnLeaf()})
	if err := s.enterEpoch(now); err != nil {
		s.reject("enter epoch", err)
	}
}

// checkExternalSenders requires the group's external_senders to be exactly
// the DS this client talks to: no other party may propose anything.
func (s *Session) checkExternalSenders(g *mls.Group) error {
	want, err := mls.ExternalSendersExtension([][]byte{s.dsKey}, []mls.Credential{mls.BasicCredential(s.dsCred)})
	if err != nil {
		return err
	}
	for _, e := range g.Extensions() {
		if e.Type == mls.ExtensionExternalSenders && !bytes.Equal(e.Data, want.Data) {
			return fmt.Errorf("%w: external senders other than this delivery service", ErrProtocol)
		}
	}
	return nil
}
