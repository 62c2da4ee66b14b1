package icmp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/stacknet/stacknet/proto/checksum"
)

// HeaderLen is the length of the fixed part of every ICMP message: type,
// code, checksum and four bytes whose meaning depends on the type.
const HeaderLen = 8

// Types (RFC 792).
const (
	TypeEchoReply      uint8 = 0
	TypeDestUnreach    uint8 = 3
	TypeSourceQuench   uint8 = 4 // deprecated by RFC 6633; never sent
	TypeRedirect       uint8 = 5
	TypeEcho           uint8 = 8
	TypeTimeExceeded   uint8 = 11
	TypeParamProblem   uint8 = 12
	TypeTimestamp      uint8 = 13
	TypeTimestampReply uint8 = 14
)

// Codes of destination unreachable (RFC 792, RFC 1122 3.2.2.1).
const (
	CodeNetUnreach    uint8 = 0
	CodeHostUnreach   uint8 = 1
	CodeProtoUnreach  uint8 = 2
	CodePortUnreach   uint8 = 3
	CodeFragNeeded    uint8 = 4
	CodeSourceRoute   uint8 = 5
	CodeNetUnknown    uint8 = 6
	CodeHostUnknown   uint8 = 7
	CodeNetProhibited uint8 = 9
	CodeHostProhib    uint8 = 10
	CodeAdminProhib   uint8 = 13
)

// Codes of time exceeded.
const (
	CodeTTLExceeded  uint8 = 0
	CodeReasmTimeout uint8 = 1
)

// Errors returned by Parse; each is a reason a message is dropped.
var (
	ErrShort    = errors.New("icmp: message shorter than its header")
	ErrChecksum = errors.New("icmp: bad checksum")
)

// Message is a view of an ICMP message (RFC 792).
type Message []byte

// Parse checks the length and the checksum of b.
func Parse(b []byte) (Message, error) {
	if len(b) < HeaderLen {
		return nil, ErrShort
	}
	if checksum.Sum(b, 0) != 0xffff {
		return nil, ErrChecksum
	}
	return Message(b), nil
}

// Type is the message type.
func (m Message) Type() uint8 { return m[0] }

// Code is the message code.
func (m Message) Code() uint8 { return m[1] }

// Checksum is the checksum field.
func (m Message) Checksum() uint16 { return binary.BigEndian.Uint16(m[2:4]) }

// ID is the identifier of an echo or echo reply.
func (m Message) ID() uint16 { return binary.BigEndian.Uint16(m[4:6]) }

// Seq is the sequence number of an echo or echo reply.
func (m Message) Seq() uint16 { return binary.BigEndian.Uint16(m[6:8]) }

// NextHopMTU is the MTU carried by a fragmentation-needed message
// (RFC 1191 section 4); zero if the sender predates RFC 1191.
func (m Message) NextHopMTU() uint16 { return binary.BigEndian.Uint16(m[6:8]) }

// Body is everything after the fixed header: an echo's data, or an error's
// quoted datagram (its IP header and at least eight bytes after it).
func (m Message) Body() []byte { return m[HeaderLen:] }

// IsError reports whether the message reports an error about a datagram:
// RFC 1122 3.2.2 counts destination unreachable, redirect, source quench,
// time exceeded and parameter problem as ICMP error messages.
func (m Message) IsError() bool { return IsErrorType(m.Type()) }

// IsErrorType reports whether typ is the type of an ICMP error message
// (RFC 1122 3.2.2); the other known types are queries.
func IsErrorType(typ uint8) bool {
	switch typ {
	case TypeDestUnreach, TypeRedirect, TypeSourceQuench, TypeTimeExceeded, TypeParamProblem:
		return true
	}
	return false
}

// Put writes the header of a message of len(b) bytes (body already in
// place) with the given rest-of-header word, and computes its checksum.
func Put(b []byte, typ, code uint8, rest uint32) {
	b[0], b[1] = typ, code
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint32(b[4:8], rest)
	binary.BigEndian.PutUint16(b[2:4], ^checksum.Sum(b, 0))
}

// EchoRest builds the rest-of-header word of an echo from its identifier
// and sequence number.
func EchoRest(id, seq uint16) uint32 { return uint32(id)<<16 | uint32(seq) }

// String formats the message for the packet trace.
func (m Message) String() string {
	switch m.Type() {
	case TypeEcho, TypeEchoReply:
		return fmt.Sprintf("type: %d (%s), code: %d, sum: 0x%04x, id: %d, seq: %d, len: %d",
			m.Type(), typeName(m.Type()), m.Code(), m.Checksum(), m.ID(), m.Seq(), len(m))
	}
	return fmt.Sprintf("type: %d (%s), code: %d, sum: 0x%04x, rest: 0x%08x, len: %d",
		m.Type(), typeName(m.Type()), m.Code(), m.Checksum(), binary.BigEndian.Uint32(m[4:8]), len(m))
}

func typeName(t uint8) string {
	switch t {
	case TypeEchoReply:
		return "echo reply"
	case TypeDestUnreach:
		return "destination unreachable"
	case TypeSourceQuench:
		return "source quench"
	case TypeRedirect:
		return "redirect"
	case TypeEcho:
		return "echo"
	case TypeTimeExceeded:
		return "time exceeded"
	case TypeParamProblem:
		return "parameter problem"
	case TypeTimestamp:
		return "timestamp"
	case TypeTimestampReply:
		return "timestamp reply"
	}
	return "unknown"
}
