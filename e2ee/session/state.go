package session

import (
	"errors"
	"fmt"
	"time"

	"conclave/e2ee/mls"
)

const stateVersion = 1

// ErrStateFormat: saved state that does not decode.
var ErrStateFormat = errors.New("session: bad saved state")

// MarshalBinary saves what a client needs to resume after a restart: the DS's
// key and credential, the group (or the KeyPackage a joiner waits with). The
// bytes hold private keys and epoch secrets; store them like keys. Lobby,
// queued Adds and queued chat are not saved: the DS replays what is pending.
func (s *Session) MarshalBinary() ([]byte, error) {
	b := []byte{stateVersion, byte(s.phase)}
	b = appendOpaque(b, s.dsKey)
	b = appendOpaque(b, s.dsCred)
	var g, kp []byte
	var err error
	if s.group != nil {
		if g, err = s.group.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("session: save group: %w", err)
		}
	}
	if s.kp != nil {
		if kp, err = s.kp.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("session: save key package: %w", err)
		}
	}
	b = appendOpaque(b, g)
	b = appendOpaque(b, kp)
	return b, nil
}

// Restore returns a session from saved state, with its current epoch's media
// keys installed at now; call Start to resume with the DS.
func Restore(cfg Config, data []byte, now time.Time) (*Session, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	f := &fields{r: reader{b: data}}
	v := f.u8()
	ph := phase(f.u8())
	s.dsKey, s.dsCred = f.opaque(), f.opaque()
	g, kp := f.opaque(), f.opaque()
	switch {
	case f.err != nil:
		return nil, fmt.Errorf("%w: %w", ErrStateFormat, f.err)
	case v != stateVersion:
		return nil, fmt.Errorf("%w: version %d", ErrStateFormat, v)
	case len(f.r.b) != 0:
		return nil, fmt.Errorf("%w: trailing bytes", ErrStateFormat)
	}
	if len(kp) > 0 {
		if s.kp, err = mls.UnmarshalKeyPackageBundle(kp); err != nil {
			return nil, fmt.Errorf("%w: key package: %w", ErrStateFormat, err)
		}
		s.kpRef = s.kp.KeyPackage().Ref()
	}
	if len(g) > 0 {
		if s.group, err = mls.LoadGroup(g, s.mlsConfig()); err != nil {
			return nil, fmt.Errorf("%w: group: %w", ErrStateFormat, err)
		}
		if err := s.enterEpoch(now); err != nil {
			return nil, err
		}
		s.events = nil
	}
	s.phase = ph
	return s, nil
}
