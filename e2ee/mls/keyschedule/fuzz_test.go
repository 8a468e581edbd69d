package keyschedule

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzSecretTreeConsume receives generations in an arbitrary order (a
// message's generation is attacker-influenced) and checks the secret tree
// against a sender's in-order ratchet: every key returned is the sender's key
// for that generation, no generation is returned twice, and every refusal is
// one of the documented errors.
func FuzzSecretTreeConsume(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})
	f.Add([]byte{15, 0, 3, 3, 200, 1})
	f.Add([]byte{255, 254, 0, 128})
	f.Fuzz(func(t *testing.T, gens []byte) {
		if len(gens) > 64 {
			gens = gens[:64]
		}
		const window = 40
		receiver := newTree(t, 4, Config{MaxForward: window, MaxRetained: 8})
		sender := newTree(t, 4, Config{})
		var sent [][]byte
		used := map[uint32]bool{}
		for _, b := range gens {
			gen := uint32(b)
			for uint32(len(sent)) <= gen {
				kn, err := sender.Next(2, Application)
				if err != nil {
					t.Fatal(err)
				}
				sent = append(sent, append([]byte(nil), kn.Key...))
			}
			err := receiver.Consume(2, Application, gen, func(key, _ []byte) error {
				if !bytes.Equal(key, sent[gen]) {
					t.Fatalf("generation %d: key differs from the sender's", gen)
				}
				return nil
			})
			switch {
			case err == nil:
				if used[gen] {
					t.Fatalf("generation %d returned twice", gen)
				}
				used[gen] = true
			case errors.Is(err, ErrGenerationConsumed), errors.Is(err, ErrGenerationTooFar):
			default:
				t.Fatalf("generation %d: unexpected error %v", gen, err)
			}
		}
	})
}
