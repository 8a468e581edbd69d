package sframe_test

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"conclave/e2ee/sframe"
)

func Example() {
	baseKey := bytes.Repeat([]byte{0x42}, sframe.AES128GCMSHA256_128.KeySize())
	sender, err := sframe.NewSender(sframe.AES128GCMSHA256_128, 7, baseKey)
	if err != nil {
		panic(err)
	}
	receiver, err := sframe.NewReceiver(sframe.AES128GCMSHA256_128)
	if err != nil {
		panic(err)
	}
	if err := receiver.AddKey(7, baseKey); err != nil {
		panic(err)
	}

	buf := make([]byte, 0, 1500)
	wire, err := sender.Encrypt(buf, []byte("clear metadata"), []byte("media frame"))
	if err != nil {
		panic(err)
	}
	plain, err := receiver.Decrypt(nil, []byte("clear metadata"), wire)
	fmt.Printf("%s %v\n", plain, err)

	_, err = receiver.Decrypt(nil, []byte("clear metadata"), wire)
	fmt.Println(errors.Is(err, sframe.ErrReplay))
	// Output:
	// media frame <nil>
	// true
}

func ExampleEncryptFrame() {
	baseKey := bytes.Repeat([]byte{1}, 16) // in a meeting: from the MLS exporter
	const kid = 3
	sender, err := sframe.NewSender(sframe.AES128GCMSHA256_128, kid, baseKey)
	if err != nil {
		panic(err)
	}
	receiver, err := sframe.NewReceiver(sframe.AES128GCMSHA256_128)
	if err != nil {
		panic(err)
	}
	if err := receiver.AddKey(kid, baseKey); err != nil {
		panic(err)
	}
	// A VP8 interframe: its first byte stays clear for the SFU.
	frame := []byte{0x31, 0xde, 0xad, 0xbe, 0xef}
	wire, err := sframe.EncryptFrame(sender, sframe.CodecVP8, nil, frame)
	if err != nil {
		panic(err)
	}
	fmt.Printf("clear byte %#x, %d bytes on the wire\n", wire[0], len(wire))
	back, err := sframe.DecryptFrame(receiver, sframe.CodecVP8, nil, wire)
	fmt.Println(bytes.Equal(back, frame), err)
	// Output:
	// clear byte 0x31, 22 bytes on the wire
	// true <nil>
}

// exporter stands in for an MLS group's exporter of one epoch.
type exporter struct{ epoch byte }

func (e exporter) Export(label string, _ []byte, n int) ([]byte, error) {
	return bytes.Repeat([]byte{e.epoch}, n), nil
}

func ExampleNewMLSReceiver() {
	suite := sframe.AES128GCMSHA256_128
	layout := sframe.DefaultKIDLayout
	now := time.Unix(0, 0)

	receiver, err := sframe.NewMLSReceiver(suite, layout, 5*time.Second)
	if err != nil {
		panic(err)
	}
	_ = receiver.AddEpoch(1, exporter{1}, now)
	alice, _ := sframe.NewMLSSender(suite, layout, exporter{1}, 1, 3, 0) // leaf 3, epoch 1
	old, _ := alice.Encrypt(nil, nil, []byte("epoch 1 frame"))

	// A commit moves the group to epoch 2; epoch 1 stays for the grace period.
	_ = receiver.AddEpoch(2, exporter{2}, now)
	pt, err := receiver.Decrypt(nil, nil, old)
	fmt.Printf("%s %v\n", pt, err)

	receiver.Expire(now.Add(5 * time.Second))
	_, err = receiver.Decrypt(nil, nil, old)
	fmt.Println(errors.Is(err, sframe.ErrUnknownKey))
	// Output:
	// epoch 1 frame <nil>
	// true
}
