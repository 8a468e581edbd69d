package session

// The messages of the delivery-service protocol as the session sees them
// (docs/e2ee-protocol.md, "Messages"). wire.go converts them to and from the
// bytes of package dsproto; the session logic works on these values only.

// Roles the DS assigns in its hello.
const (
	roleCreate = 1
	roleJoin   = 2
	roleResume = 3
)

// Lobby states of the DS's Lobby message.
const (
	lobbyWaiting  = 1
	lobbyRefused  = 2
	lobbyAdmitted = 3
)

// Inbound messages (DS -> client).
type (
	inHello struct {
		dsKey        []byte
		dsCredential []byte
		role         uint8
		epoch        uint64
		groupID      []byte
	}
	inJoinRequest struct {
		ref, keyPackage, proof []byte
		participant            string
	}
	inHandshake struct {
		seq     uint64
		message []byte
	}
	inCommitResult struct {
		ok    bool
		epoch uint64
	}
	inWelcome     struct{ welcome []byte }
	inApplication struct {
		message     []byte
		participant string
	}
	inLobby struct {
		state  uint8
		reason string
	}
	inLobbyGone struct{ ref []byte }
	inError     struct {
		code uint16
		text string
	}
	// inRefreshToken is a fresh access token; a credential, never logged.
	inRefreshToken struct{ token string }
)

// Outbound messages (client -> DS).
type (
	outHello struct {
		haveEpoch uint64
		groupID   []byte
		leaf      uint32
	}
	outKeyPackage  struct{ keyPackage, proof []byte }
	outCommit      struct{ commit, welcome, groupInfo []byte }
	outApplication struct{ message []byte }
	outRefuse      struct{ ref []byte }
	outJoined      struct {
		epoch uint64
		leaf  uint32
	}
	outGroupCreated struct {
		groupID []byte
		epoch   uint64
	}
)
