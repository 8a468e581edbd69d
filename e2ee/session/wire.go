package session

import (
	"fmt"

	"conclave/e2ee/dsproto"
)

// The bytes of the /e2ee protocol are package dsproto's
// (docs/e2ee-protocol.md, "Messages"); this file converts them to and from
// the values the session logic works on (msg.go).

// encode encodes a client -> DS message.
func encode(m any) ([]byte, error) {
	var d dsproto.Message
	switch m := m.(type) {
	case outHello:
		d = &dsproto.Hello{HaveEpoch: m.haveEpoch, GroupID: m.groupID, Leaf: m.leaf}
	case outKeyPackage:
		d = &dsproto.KeyPackage{KeyPackage: m.keyPackage, Proof: m.proof}
	case outCommit:
		d = &dsproto.Commit{Commit: m.commit, Welcome: m.welcome, GroupInfo: m.groupInfo}
	case outApplication:
		d = &dsproto.Application{Message: m.message}
	case outRefuse:
		d = &dsproto.Refuse{Ref: m.ref}
	case outJoined:
		d = &dsproto.Joined{Epoch: m.epoch, Leaf: m.leaf}
	case outGroupCreated:
		d = &dsproto.GroupCreated{GroupID: m.groupID, Epoch: m.epoch}
	default:
		return nil, fmt.Errorf("session: cannot encode %T", m)
	}
	b, err := dsproto.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("session: encode %v: %w", d.Type(), err)
	}
	return b, nil
}

// decode decodes a DS -> client message; the values alias data.
func decode(data []byte) (any, error) {
	d, err := dsproto.Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	switch d := d.(type) {
	case *dsproto.ServerHello:
		return inHello{dsKey: d.SignatureKey, dsCredential: d.Credential, role: d.Role, epoch: d.Epoch, groupID: d.GroupID}, nil
	case *dsproto.JoinRequest:
		return inJoinRequest{ref: d.Ref, keyPackage: d.KeyPackage, proof: d.Proof, participant: string(d.Participant)}, nil
	case *dsproto.Handshake:
		return inHandshake{seq: d.Seq, message: d.Message}, nil
	case *dsproto.CommitResult:
		return inCommitResult{ok: d.OK, epoch: d.Epoch}, nil
	case *dsproto.MLSWelcome:
		return inWelcome{welcome: d.Welcome}, nil
	case *dsproto.RelayedApplication:
		return inApplication{message: d.Message, participant: string(d.Participant)}, nil
	case *dsproto.Lobby:
		return inLobby{state: d.State, reason: string(d.Reason)}, nil
	case *dsproto.LobbyGone:
		return inLobbyGone{ref: d.Ref}, nil
	case *dsproto.Error:
		return inError{code: d.Code, text: string(d.Text)}, nil
	case *dsproto.RefreshToken:
		return inRefreshToken{token: string(d.Token)}, nil
	}
	return nil, fmt.Errorf("%w: %v is not a server message", ErrProtocol, d.Type())
}
