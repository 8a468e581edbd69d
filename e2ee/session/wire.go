package session

import (
	"encoding/binary"
	"fmt"
)

// The bytes of the /e2ee protocol, version 1 (docs/e2ee-protocol.md,
// "Messages"): uint8 version || uint8 type || body, the body in the TLS
// presentation language with MLS variable-length vectors (RFC 9420,
// Section 2.1.2). Package dsproto is the shared definition; this file is the
// client's half until the session uses it directly.

const (
	wireVersion = 1
	// MaxMessageSize bounds every message in both directions.
	MaxMessageSize = 1 << 20
)

// Message types.
const (
	tHello        = 1
	tKeyPackage   = 2
	tCommit       = 3
	tApplication  = 4
	tRefuse       = 5
	tJoined       = 6
	tGroupCreated = 7

	tDSHello        = 64
	tJoinRequest    = 65
	tHandshake      = 66
	tCommitResult   = 67
	tMLSWelcome     = 68
	tDSApplication  = 69
	tLobby          = 70
	tLobbyGone      = 71
	tError          = 72
	maxVectorLength = MaxMessageSize
)

func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// encode encodes a client -> DS message.
func encode(m any) ([]byte, error) {
	b := []byte{wireVersion, 0}
	switch m := m.(type) {
	case outHello:
		b[1] = tHello
		b = appendU64(b, m.haveEpoch)
		b = appendOpaque(b, m.groupID)
		if m.haveEpoch > 0 {
			b = appendU32(b, m.leaf)
		}
	case outKeyPackage:
		b[1] = tKeyPackage
		b = appendOpaque(b, m.keyPackage)
		b = appendOpaque(b, m.proof)
	case outCommit:
		b[1] = tCommit
		b = appendOpaque(b, m.commit)
		b = appendOpaque(b, m.welcome)
		b = appendOpaque(b, m.groupInfo)
	case outApplication:
		b[1] = tApplication
		b = appendOpaque(b, m.message)
	case outRefuse:
		b[1] = tRefuse
		b = appendOpaque(b, m.ref)
	case outJoined:
		b[1] = tJoined
		b = appendU64(b, m.epoch)
		b = appendU32(b, m.leaf)
	case outGroupCreated:
		b[1] = tGroupCreated
		b = appendOpaque(b, m.groupID)
		b = appendU64(b, m.epoch)
	default:
		return nil, fmt.Errorf("session: cannot encode %T", m)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes", ErrProtocol, len(b))
	}
	return b, nil
}

func (r *reader) uint16() (uint16, error) {
	if len(r.b) < 2 {
		return 0, errShort
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v, nil
}

func (r *reader) uint32() (uint32, error) {
	if len(r.b) < 4 {
		return 0, errShort
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v, nil
}

func (r *reader) uint64() (uint64, error) {
	if len(r.b) < 8 {
		return 0, errShort
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v, nil
}

// fields decodes a sequence of fields, stopping at the first error.
type fields struct {
	r   reader
	err error
}

func (f *fields) opaque() []byte {
	if f.err != nil {
		return nil
	}
	v, err := f.r.opaque(maxVectorLength)
	f.err = err
	return v
}

func (f *fields) u8() uint8 {
	if f.err != nil {
		return 0
	}
	v, err := f.r.uint8()
	f.err = err
	return v
}

func (f *fields) u16() uint16 {
	if f.err != nil {
		return 0
	}
	v, err := f.r.uint16()
	f.err = err
	return v
}

func (f *fields) u64() uint64 {
	if f.err != nil {
		return 0
	}
	v, err := f.r.uint64()
	f.err = err
	return v
}

// decode decodes a DS -> client message. The values it returns alias data.
func decode(data []byte) (any, error) {
	if len(data) > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes", ErrProtocol, len(data))
	}
	if len(data) < 2 {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, errShort)
	}
	if data[0] != wireVersion {
		return nil, fmt.Errorf("%w: version %d", ErrProtocol, data[0])
	}
	f := &fields{r: reader{b: data[2:]}}
	var m any
	switch data[1] {
	case tDSHello:
		m = inHello{dsKey: f.opaque(), dsCredential: f.opaque(), role: f.u8(), epoch: f.u64(), groupID: f.opaque()}
	case tJoinRequest:
		m = inJoinRequest{ref: f.opaque(), keyPackage: f.opaque(), proof: f.opaque(), participant: string(f.opaque())}
	case tHandshake:
		m = inHandshake{seq: f.u64(), message: f.opaque()}
	case tCommitResult:
		m = inCommitResult{ok: f.u8() == 1, epoch: f.u64()}
	case tMLSWelcome:
		m = inWelcome{welcome: f.opaque()}
	case tDSApplication:
		m = inApplication{message: f.opaque(), participant: string(f.opaque())}
	case tLobby:
		m = inLobby{state: f.u8(), reason: string(f.opaque())}
	case tLobbyGone:
		m = inLobbyGone{ref: f.opaque()}
	case tError:
		m = inError{code: f.u16(), text: string(f.opaque())}
	default:
		return nil, fmt.Errorf("%w: message type %d", ErrProtocol, data[1])
	}
	if f.err != nil {
		return nil, fmt.Errorf("%w: type %d: %w", ErrProtocol, data[1], f.err)
	}
	if len(f.r.b) != 0 {
		return nil, fmt.Errorf("%w: type %d: %d trailing bytes", ErrProtocol, data[1], len(f.r.b))
	}
	return m, nil
}
