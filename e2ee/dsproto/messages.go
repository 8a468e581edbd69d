package dsproto

import (
	"errors"
	"fmt"
)

// Version is the protocol version this package speaks. A message of any
// other version is refused (ErrVersion); a future version will be announced
// in ServerHello's place by the server refusing the older one.
const Version = 1

// Bounds. A message or field over its bound fails to encode and to decode
// with ErrTooLarge.
const (
	// MaxMessageSize bounds a whole message, header included.
	MaxMessageSize = 1 << 20
	// MaxGroupID bounds an MLS group ID (Conclave's are 32 bytes).
	MaxGroupID = 255
	// MaxRef bounds a KeyPackageRef (RFC 9420, Section 5.2: a hash output,
	// 32 to 64 bytes in the registered suites).
	MaxRef = 64
	// MaxProof bounds an admission proof (HMAC-SHA256: 32 bytes).
	MaxProof = 64
	// MaxKeyPackage bounds a KeyPackage MLSMessage.
	MaxKeyPackage = 16 << 10
	// MaxParticipant bounds a participant identity (an access token's
	// identity).
	MaxParticipant = 256
	// MaxText bounds Error texts and Lobby reasons.
	MaxText = 1024
	// MaxSignatureKey and MaxCredential bound the DS's public key and
	// credential identity in ServerHello.
	MaxSignatureKey = 256
	MaxCredential   = 1024
	// MaxToken bounds a refreshed access token (RefreshToken): the same
	// bound as the server's token verifier (signaling/token).
	MaxToken = 8192
	// maxBlob bounds the opaque MLS messages (commits, Welcomes, application
	// messages); MaxMessageSize bounds them in practice.
	maxBlob = MaxMessageSize
)

// Errors returned by Marshal and Unmarshal.
var (
	ErrMalformed   = errors.New("dsproto: malformed message")
	ErrTooLarge    = errors.New("dsproto: message or field too large")
	ErrVersion     = errors.New("dsproto: unsupported protocol version")
	ErrUnknownType = errors.New("dsproto: unknown message type")
)

// Type is a message type.
type Type uint8

// Client-to-server message types.
const (
	TypeHello        Type = 1
	TypeKeyPackage   Type = 2
	TypeCommit       Type = 3
	TypeApplication  Type = 4
	TypeRefuse       Type = 5
	TypeJoined       Type = 6
	TypeGroupCreated Type = 7
)

// Server-to-client message types.
const (
	TypeServerHello        Type = 64
	TypeJoinRequest        Type = 65
	TypeHandshake          Type = 66
	TypeCommitResult       Type = 67
	TypeMLSWelcome         Type = 68
	TypeRelayedApplication Type = 69
	TypeLobby              Type = 70
	TypeLobbyGone          Type = 71
	TypeError              Type = 72
	TypeRefreshToken       Type = 73
)

// FromClient reports whether t is a client-to-server type.
func (t Type) FromClient() bool { return t >= TypeHello && t <= TypeGroupCreated }

// FromServer reports whether t is a server-to-client type.
func (t Type) FromServer() bool { return t >= TypeServerHello && t <= TypeRefreshToken }

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

var typeNames = map[Type]string{
	TypeHello: "Hello", TypeKeyPackage: "KeyPackage", TypeCommit: "Commit", TypeApplication: "Application",
	TypeRefuse: "Refuse", TypeJoined: "Joined", TypeGroupCreated: "GroupCreated",
	TypeServerHello: "ServerHello", TypeJoinRequest: "JoinRequest", TypeHandshake: "Handshake",
	TypeCommitResult: "CommitResult", TypeMLSWelcome: "MLSWelcome", TypeRelayedApplication: "RelayedApplication",
	TypeLobby: "Lobby", TypeLobbyGone: "LobbyGone", TypeError: "Error", TypeRefreshToken: "RefreshToken",
}

// Message is one protocol message.
type Message interface {
	// Type is the message's type byte.
	Type() Type
	encode(w *writer)
	decode(r *reader)
}

// Roles in ServerHello.
const (
	RoleCreate = 1 // create the group
	RoleJoin   = 2 // send a KeyPackage
	RoleResume = 3 // the DS resumes the member's connection and replays
)

// Lobby states.
const (
	LobbyWaiting  = 1
	LobbyRefused  = 2
	LobbyAdmitted = 3
)

// Error codes. Codes marked "closes" are followed by the DS closing the
// connection.
const (
	CodeMalformed  = 1  // closes: the bytes are not a valid message
	CodeTooLarge   = 2  // closes: over a size bound
	CodeVersion    = 3  // closes: another protocol version
	CodeUnknown    = 4  // closes: unknown type, or a server type from a client
	CodeNotAllowed = 5  // the message does not fit the connection's state; ignored
	CodeReplaced   = 6  // closes: a newer connection with the same identity took over
	CodeLimit      = 7  // closes: a room limit was reached
	CodeInternal   = 8  // closes: a server fault
	CodeShutdown   = 9  // closes: the server is shutting down
	CodeRemoved    = 10 // closes: an admin removed the participant
	CodeSlow       = 11 // closes: the client did not read its messages in time
	CodeEnded      = 12 // closes: an admin ended the meeting
)

// Hello opens a connection (client to server). HaveEpoch is 0 without
// group state; otherwise GroupID and Leaf say which group and leaf the
// client holds, to resume. Leaf is on the wire only when HaveEpoch > 0
// (it is not encoded, and decodes as 0, otherwise).
type Hello struct {
	HaveEpoch uint64
	GroupID   []byte
	Leaf      uint32
}

// KeyPackage publishes a joiner's KeyPackage (an MLSMessage) and its
// admission proof; an empty proof knocks.
type KeyPackage struct {
	KeyPackage []byte
	Proof      []byte
}

// Commit submits a commit (an MLSMessage carrying a PublicMessage) with the
// Welcome for the members it adds, if any. GroupInfo is reserved (ignored by
// the version 1 server).
type Commit struct {
	Commit    []byte
	Welcome   []byte
	GroupInfo []byte
}

// Application submits an MLS application message (a PrivateMessage).
type Application struct {
	Message []byte
}

// Refuse refuses the lobby joiner whose KeyPackage has reference Ref.
type Refuse struct {
	Ref []byte
}

// Joined reports that the client joined the group at Epoch, at Leaf.
type Joined struct {
	Epoch uint64
	Leaf  uint32
}

// GroupCreated reports the group the designated creator made.
type GroupCreated struct {
	GroupID []byte
	Epoch   uint64
}

// ServerHello answers Hello (server to client) and names the client's role.
// The server may send it again, with RoleCreate, to a joiner still waiting
// when the designated creator went away before creating the group.
type ServerHello struct {
	SignatureKey []byte // the DS's Ed25519 public key
	Credential   []byte // the identity of the DS's basic credential
	Role         uint8
	Epoch        uint64
	GroupID      []byte
}

// JoinRequest passes a joiner's KeyPackage to the members. Ref is computed
// by the server; Participant is the token identity of the joiner's
// connection.
type JoinRequest struct {
	Ref         []byte
	KeyPackage  []byte
	Proof       []byte
	Participant []byte
}

// Handshake is an accepted commit or a DS-signed external Remove proposal,
// numbered in the order members must process them.
type Handshake struct {
	Seq     uint64
	Message []byte
}

// CommitResult answers Commit: OK, or rebase onto Epoch.
type CommitResult struct {
	OK    bool
	Epoch uint64
}

// MLSWelcome passes a Welcome to a joiner it names.
type MLSWelcome struct {
	Welcome []byte
}

// RelayedApplication passes an application message from the member whose
// connection has identity Participant.
type RelayedApplication struct {
	Message     []byte
	Participant []byte
}

// Lobby tells a joiner where it stands.
type Lobby struct {
	State  uint8
	Reason []byte
}

// LobbyGone tells members a lobby entry is gone (left, refused or admitted).
type LobbyGone struct {
	Ref []byte
}

// Error reports a refused message; see the Code constants.
type Error struct {
	Code uint16
	Text []byte
}

// RefreshToken carries a fresh access token for the connection's own
// claims (server to client), sent every refresh interval so that a client
// whose WebSocket drops after its first token expired can still reconnect
// and resume. Token is a bearer credential: never log it. It is 1 to
// MaxToken bytes of visible ASCII (a JWT); anything else fails to encode
// and to decode with ErrMalformed.
type RefreshToken struct {
	Token []byte
}

func (*Hello) Type() Type              { return TypeHello }
func (*KeyPackage) Type() Type         { return TypeKeyPackage }
func (*Commit) Type() Type             { return TypeCommit }
func (*Application) Type() Type        { return TypeApplication }
func (*Refuse) Type() Type             { return TypeRefuse }
func (*Joined) Type() Type             { return TypeJoined }
func (*GroupCreated) Type() Type       { return TypeGroupCreated }
func (*ServerHello) Type() Type        { return TypeServerHello }
func (*JoinRequest) Type() Type        { return TypeJoinRequest }
func (*Handshake) Type() Type          { return TypeHandshake }
func (*CommitResult) Type() Type       { return TypeCommitResult }
func (*MLSWelcome) Type() Type         { return TypeMLSWelcome }
func (*RelayedApplication) Type() Type { return TypeRelayedApplication }
func (*Lobby) Type() Type              { return TypeLobby }
func (*LobbyGone) Type() Type          { return TypeLobbyGone }
func (*Error) Type() Type              { return TypeError }
func (*RefreshToken) Type() Type       { return TypeRefreshToken }

func (m *Hello) encode(w *writer) {
	w.uint64(m.HaveEpoch)
	w.opaque("group_id", m.GroupID, MaxGroupID)
	if m.HaveEpoch > 0 {
		w.uint32(m.Leaf)
	}
}

func (m *Hello) decode(r *reader) {
	m.HaveEpoch = r.uint64("have_epoch")
	m.GroupID = r.opaque("group_id", MaxGroupID)
	if m.HaveEpoch > 0 {
		m.Leaf = r.uint32("leaf")
	}
}

func (m *KeyPackage) encode(w *writer) {
	w.opaque("key_package", m.KeyPackage, MaxKeyPackage)
	w.opaque("proof", m.Proof, MaxProof)
}

func (m *KeyPackage) decode(r *reader) {
	m.KeyPackage = r.opaque("key_package", MaxKeyPackage)
	m.Proof = r.opaque("proof", MaxProof)
}

func (m *Commit) encode(w *writer) {
	w.opaque("commit", m.Commit, maxBlob)
	w.opaque("welcome", m.Welcome, maxBlob)
	w.opaque("group_info", m.GroupInfo, maxBlob)
}

func (m *Commit) decode(r *reader) {
	m.Commit = r.opaque("commit", maxBlob)
	m.Welcome = r.opaque("welcome", maxBlob)
	m.GroupInfo = r.opaque("group_info", maxBlob)
}

func (m *Application) encode(w *writer) { w.opaque("message", m.Message, maxBlob) }
func (m *Application) decode(r *reader) { m.Message = r.opaque("message", maxBlob) }

func (m *Refuse) encode(w *writer) { w.opaque("key_package_ref", m.Ref, MaxRef) }
func (m *Refuse) decode(r *reader) { m.Ref = r.opaque("key_package_ref", MaxRef) }

func (m *Joined) encode(w *writer) {
	w.uint64(m.Epoch)
	w.uint32(m.Leaf)
}

func (m *Joined) decode(r *reader) {
	m.Epoch = r.uint64("epoch")
	m.Leaf = r.uint32("leaf")
}

func (m *GroupCreated) encode(w *writer) {
	w.opaque("group_id", m.GroupID, MaxGroupID)
	w.uint64(m.Epoch)
}

func (m *GroupCreated) decode(r *reader) {
	m.GroupID = r.opaque("group_id", MaxGroupID)
	m.Epoch = r.uint64("epoch")
}

func (m *ServerHello) encode(w *writer) {
	w.opaque("ds_signature_key", m.SignatureKey, MaxSignatureKey)
	w.opaque("ds_credential", m.Credential, MaxCredential)
	w.uint8(m.Role)
	w.uint64(m.Epoch)
	w.opaque("group_id", m.GroupID, MaxGroupID)
}

func (m *ServerHello) decode(r *reader) {
	m.SignatureKey = r.opaque("ds_signature_key", MaxSignatureKey)
	m.Credential = r.opaque("ds_credential", MaxCredential)
	m.Role = r.uint8("role")
	m.Epoch = r.uint64("epoch")
	m.GroupID = r.opaque("group_id", MaxGroupID)
}

func (m *JoinRequest) encode(w *writer) {
	w.opaque("key_package_ref", m.Ref, MaxRef)
	w.opaque("key_package", m.KeyPackage, MaxKeyPackage)
	w.opaque("proof", m.Proof, MaxProof)
	w.opaque("participant", m.Participant, MaxParticipant)
}

func (m *JoinRequest) decode(r *reader) {
	m.Ref = r.opaque("key_package_ref", MaxRef)
	m.KeyPackage = r.opaque("key_package", MaxKeyPackage)
	m.Proof = r.opaque("proof", MaxProof)
	m.Participant = r.opaque("participant", MaxParticipant)
}

func (m *Handshake) encode(w *writer) {
	w.uint64(m.Seq)
	w.opaque("message", m.Message, maxBlob)
}

func (m *Handshake) decode(r *reader) {
	m.Seq = r.uint64("seq")
	m.Message = r.opaque("message", maxBlob)
}

func (m *CommitResult) encode(w *writer) {
	ok := uint8(0)
	if m.OK {
		ok = 1
	}
	w.uint8(ok)
	w.uint64(m.Epoch)
}

func (m *CommitResult) decode(r *reader) {
	switch ok := r.uint8("ok"); ok {
	case 0, 1:
		m.OK = ok == 1
	default:
		r.fail("ok is %d, not a boolean", ok)
	}
	m.Epoch = r.uint64("epoch")
}

func (m *MLSWelcome) encode(w *writer) { w.opaque("welcome", m.Welcome, maxBlob) }
func (m *MLSWelcome) decode(r *reader) { m.Welcome = r.opaque("welcome", maxBlob) }

func (m *RelayedApplication) encode(w *writer) {
	w.opaque("message", m.Message, maxBlob)
	w.opaque("sender_participant", m.Participant, MaxParticipant)
}

func (m *RelayedApplication) decode(r *reader) {
	m.Message = r.opaque("message", maxBlob)
	m.Participant = r.opaque("sender_participant", MaxParticipant)
}

func (m *Lobby) encode(w *writer) {
	w.uint8(m.State)
	w.opaque("reason", m.Reason, MaxText)
}

func (m *Lobby) decode(r *reader) {
	m.State = r.uint8("state")
	m.Reason = r.opaque("reason", MaxText)
}

func (m *LobbyGone) encode(w *writer) { w.opaque("key_package_ref", m.Ref, MaxRef) }
func (m *LobbyGone) decode(r *reader) { m.Ref = r.opaque("key_package_ref", MaxRef) }

func (m *Error) encode(w *writer) {
	w.uint16(m.Code)
	w.opaque("text", m.Text, MaxText)
}

func (m *Error) decode(r *reader) {
	m.Code = r.uint16("code")
	m.Text = r.opaque("text", MaxText)
}

func (m *RefreshToken) encode(w *writer) {
	if w.err == nil {
		if err := checkToken(m.Token); err != nil {
			w.err = err
			return
		}
	}
	w.opaque("token", m.Token, MaxToken)
}

func (m *RefreshToken) decode(r *reader) {
	m.Token = r.opaque("token", MaxToken)
	if r.err == nil {
		if err := checkToken(m.Token); err != nil {
			r.err = err
		}
	}
}

// checkToken refuses an empty token and any byte outside visible ASCII
// (0x21 to 0x7e), which no JWT holds; the size bound is the opaque's.
func checkToken(tok []byte) error {
	if len(tok) == 0 {
		return fmt.Errorf("%w: empty token", ErrMalformed)
	}
	for _, c := range tok {
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: token byte 0x%02x is not visible ASCII", ErrMalformed, c)
		}
	}
	return nil
}

// newMessage returns an empty message of type t, or nil.
func newMessage(t Type) Message {
	switch t {
	case TypeHello:
		return &Hello{}
	case TypeKeyPackage:
		return &KeyPackage{}
	case TypeCommit:
		return &Commit{}
	case TypeApplication:
		return &Application{}
	case TypeRefuse:
		return &Refuse{}
	case TypeJoined:
		return &Joined{}
	case TypeGroupCreated:
		return &GroupCreated{}
	case TypeServerHello:
		return &ServerHello{}
	case TypeJoinRequest:
		return &JoinRequest{}
	case TypeHandshake:
		return &Handshake{}
	case TypeCommitResult:
		return &CommitResult{}
	case TypeMLSWelcome:
		return &MLSWelcome{}
	case TypeRelayedApplication:
		return &RelayedApplication{}
	case TypeLobby:
		return &Lobby{}
	case TypeLobbyGone:
		return &LobbyGone{}
	case TypeError:
		return &Error{}
	case TypeRefreshToken:
		return &RefreshToken{}
	}
	return nil
}

// Marshal encodes m with its header. It fails with ErrTooLarge if a field
// or the whole message is over its bound.
func Marshal(m Message) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrMalformed)
	}
	w := &writer{b: []byte{Version, byte(m.Type())}}
	m.encode(w)
	if w.err != nil {
		return nil, fmt.Errorf("dsproto: encode %v: %w", m.Type(), w.err)
	}
	if len(w.b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %v of %d bytes exceeds %d", ErrTooLarge, m.Type(), len(w.b), MaxMessageSize)
	}
	return w.b, nil
}

// Unmarshal decodes one message. The slices of the result alias b. It
// checks the size before anything else, then the version and the type, and
// refuses trailing bytes; it never panics.
func Unmarshal(b []byte) (Message, error) {
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes exceeds %d", ErrTooLarge, len(b), MaxMessageSize)
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header", ErrMalformed, len(b))
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: version %d", ErrVersion, b[0])
	}
	t := Type(b[1])
	m := newMessage(t)
	if m == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownType, b[1])
	}
	r := &reader{b: b[2:]}
	m.decode(r)
	if r.err != nil {
		return nil, fmt.Errorf("dsproto: decode %v: %w", t, r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after %v", ErrMalformed, len(r.b), t)
	}
	return m, nil
}
