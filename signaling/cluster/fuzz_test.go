package cluster

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeEnvelope feeds the decoder of commands read from Redis. Whatever
// it accepts must carry a well-formed request ID and survive a round trip.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, e := range []envelope{
		{ID: "0123456789abcdef0123456789abcdef", Cmd: Command{Op: OpRooms}},
		{ID: "ffffffffffffffffffffffffffffffff", Cmd: Command{Op: OpRemove, Room: "0123456789abcdef0123456789abcdef", Identity: "P_ABCDEFGHIJKL"}},
	} {
		b, _ := json.Marshal(e)
		f.Add(b)
	}
	f.Add([]byte(`{"id":"../../etc","cmd":{"op":"end"}}`))
	f.Add([]byte(`{"id":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		if !reqIDPattern.MatchString(env.ID) {
			t.Fatalf("accepted request id %q", env.ID)
		}
		again, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		env2, err := decodeEnvelope(again)
		if err != nil || !reflect.DeepEqual(env, env2) {
			t.Fatalf("round trip: %+v -> %+v (%v)", env, env2, err)
		}
	})
}
