package vp8

import (
	"errors"
	"fmt"
)

// ErrShort is returned when a payload ends inside the payload descriptor.
var ErrShort = errors.New("vp8: payload too short for its descriptor")

// MaxDescriptorSize is the largest payload descriptor RFC 7741 allows:
// the mandatory byte, X, two bytes of PictureID, TL0PICIDX and TID/KEYIDX.
const MaxDescriptorSize = 6

// Descriptor is a parsed VP8 payload descriptor (RFC 7741, Section 4.2).
type Descriptor struct {
	// Size is the length in bytes of the descriptor; the VP8 payload starts
	// at this offset.
	Size int
	// Extended is the X bit: an extension byte follows the first byte.
	Extended bool
	// NonReference is the N bit.
	NonReference bool
	// Start is the S bit: the packet starts a VP8 partition.
	Start bool
	// PartitionID is the PID field.
	PartitionID uint8
	// HasPictureID is the I bit; PictureID is 7 or 15 bits (LongPictureID).
	HasPictureID  bool
	LongPictureID bool
	PictureID     uint16
	// HasTL0PicIdx is the L bit.
	HasTL0PicIdx bool
	TL0PicIdx    uint8
	// HasTID is the T bit, HasKeyIdx the K bit; both share one byte.
	HasTID    bool
	TID       uint8
	LayerSync bool
	HasKeyIdx bool
	KeyIdx    uint8
}

// Parse reads the payload descriptor at the start of an RTP payload. It never
// reads past the descriptor.
func Parse(payload []byte) (Descriptor, error) {
	var d Descriptor
	if len(payload) < 1 {
		return d, ErrShort
	}
	b := payload[0]
	x := b&0x80 != 0
	d.NonReference = b&0x20 != 0
	d.Start = b&0x10 != 0
	d.PartitionID = b & 0x07
	d.Extended = x
	i := 1
	if !x {
		d.Size = i
		return d, nil
	}
	if len(payload) < i+1 {
		return d, ErrShort
	}
	ext := payload[i]
	i++
	d.HasPictureID = ext&0x80 != 0
	d.HasTL0PicIdx = ext&0x40 != 0
	d.HasTID = ext&0x20 != 0
	d.HasKeyIdx = ext&0x10 != 0
	if d.HasPictureID {
		if len(payload) < i+1 {
			return d, ErrShort
		}
		if payload[i]&0x80 != 0 {
			if len(payload) < i+2 {
				return d, ErrShort
			}
			d.LongPictureID = true
			d.PictureID = uint16(payload[i]&0x7f)<<8 | uint16(payload[i+1])
			i += 2
		} else {
			d.PictureID = uint16(payload[i])
			i++
		}
	}
	if d.HasTL0PicIdx {
		if len(payload) < i+1 {
			return d, ErrShort
		}
		d.TL0PicIdx = payload[i]
		i++
	}
	if d.HasTID || d.HasKeyIdx {
		if len(payload) < i+1 {
			return d, ErrShort
		}
		t := payload[i]
		d.TID = t >> 6
		d.LayerSync = t&0x20 != 0
		d.KeyIdx = t & 0x1f
		i++
	}
	d.Size = i
	return d, nil
}

// MarshalTo writes d as a payload descriptor into b and returns its length.
// Reserved bits are written as zero.
func (d Descriptor) MarshalTo(b []byte) (int, error) {
	n := d.MarshalSize()
	if len(b) < n {
		return 0, fmt.Errorf("vp8: marshal descriptor: buffer of %d bytes, need %d", len(b), n)
	}
	x := d.extended()
	var first byte
	if x {
		first |= 0x80
	}
	if d.NonReference {
		first |= 0x20
	}
	if d.Start {
		first |= 0x10
	}
	first |= d.PartitionID & 0x07
	b[0] = first
	if !x {
		return 1, nil
	}
	var ext byte
	if d.HasPictureID {
		ext |= 0x80
	}
	if d.HasTL0PicIdx {
		ext |= 0x40
	}
	if d.HasTID {
		ext |= 0x20
	}
	if d.HasKeyIdx {
		ext |= 0x10
	}
	b[1] = ext
	i := 2
	if d.HasPictureID {
		if d.LongPictureID {
			b[i] = 0x80 | byte(d.PictureID>>8)&0x7f
			b[i+1] = byte(d.PictureID)
			i += 2
		} else {
			b[i] = byte(d.PictureID) & 0x7f
			i++
		}
	}
	if d.HasTL0PicIdx {
		b[i] = d.TL0PicIdx
		i++
	}
	if d.HasTID || d.HasKeyIdx {
		t := d.TID<<6 | d.KeyIdx&0x1f
		if d.LayerSync {
			t |= 0x20
		}
		b[i] = t
		i++
	}
	return i, nil
}

// MarshalSize is the number of bytes MarshalTo writes.
func (d Descriptor) MarshalSize() int {
	if !d.extended() {
		return 1
	}
	n := 2
	if d.HasPictureID {
		n++
		if d.LongPictureID {
			n++
		}
	}
	if d.HasTL0PicIdx {
		n++
	}
	if d.HasTID || d.HasKeyIdx {
		n++
	}
	return n
}

// FrameStart reports whether the packet carries the first bytes of a frame:
// S set and partition index 0 (RFC 7741, Section 4.2).
func (d Descriptor) FrameStart() bool {
	return d.Start && d.PartitionID == 0
}

// IsKeyframe reports whether an RTP payload starts a VP8 keyframe: the
// descriptor marks the start of partition 0 and the P bit of the first
// payload-header byte is 0 (RFC 7741, Section 4.3; RFC 6386, Section 9.1).
// That byte is part of the clear prefix SFrame senders keep; nothing beyond it
// is read.
func IsKeyframe(payload []byte) bool {
	d, err := Parse(payload)
	if err != nil || !d.FrameStart() || len(payload) <= d.Size {
		return false
	}
	return payload[d.Size]&0x01 == 0
}

func (d Descriptor) extended() bool {
	return d.Extended || d.HasPictureID || d.HasTL0PicIdx || d.HasTID || d.HasKeyIdx
}
