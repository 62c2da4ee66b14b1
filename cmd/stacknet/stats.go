package main

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/stacknet/stacknet/stacknet"
)

// counterLayout says in which order to print the counters of
// stacknet.Stats and what each counts, in the words of `netstat -s` where
// it has them. A text with leading spaces is a part of the counter above
// it and is indented so. A counter missing here is printed after the
// others of its group, under its field name.
var counterLayout = []struct{ key, text string }{
	{"Link.InFrames", "frames received"},
	{"Link.InBytes", "bytes received"},
	{"Link.OutFrames", "frames sent"},
	{"Link.OutBytes", "bytes sent"},
	{"Link.OutErrors", "frames the device refused to send"},
	{"Link.InShort", "frames shorter than an Ethernet header"},
	{"Link.InNotForUs", "frames for another MAC address or a multicast group not joined"},
	{"Link.InVLAN", "frames tagged for a VLAN"},
	{"Link.InUnknownType", "frames with an EtherType not spoken (IPv6 among them)"},
	{"Link.InLengthField", "802.3 frames with a length in place of an EtherType"},

	{"ARP.InRequests", "requests received"},
	{"ARP.InReplies", "replies received"},
	{"ARP.OutRequests", "requests sent"},
	{"ARP.OutReplies", "replies sent"},
	{"ARP.InErrors", "malformed packets, or not IPv4 over Ethernet"},
	{"ARP.InNotForUs", "requests for addresses not ours"},
	{"ARP.InBadSender", "packets with a bad sender address"},
	{"ARP.Resolved", "neighbours resolved"},
	{"ARP.Failed", "resolutions that got no answer"},
	{"ARP.QueueDrops", "packets dropped while waiting for an address"},
	{"ARP.Evictions", "entries evicted from a full cache"},

	{"IP.InReceives", "total packets received"},
	{"IP.InHdrErrors", "with invalid headers"},
	{"IP.InShort", "  shorter than an IP header"},
	{"IP.InBadVersion", "  with a version other than 4"},
	{"IP.InBadHdrLen", "  with a bad header length"},
	{"IP.InBadTotalLen", "  with a bad total length"},
	{"IP.InCsumErrors", "  with a bad checksum"},
	{"IP.InTTLExceeded", "  whose TTL ran out while forwarding"},
	{"IP.InBadSource", "  with a martian source address"},
	{"IP.InAddrErrors", "with invalid addresses"},
	{"IP.InUnknownProtos", "with unknown protocol"},
	{"IP.InDiscards", "incoming packets discarded"},
	{"IP.InDelivers", "incoming packets delivered"},
	{"IP.ForwDatagrams", "forwarded"},
	{"IP.OutRequests", "requests sent out"},
	{"IP.OutDiscards", "outgoing packets dropped"},
	{"IP.OutNoRoutes", "dropped because of missing route"},
	{"IP.ReasmReqds", "fragments received"},
	{"IP.ReasmOKs", "packets reassembled ok"},
	{"IP.ReasmFails", "packet reassemblies failed"},
	{"IP.ReasmTimeout", "reassemblies timed out"},
	{"IP.ReasmOverlaps", "fragments overlapping others"},
	{"IP.FragOKs", "packets fragmented ok"},
	{"IP.FragFails", "packets that could not be fragmented"},
	{"IP.FragCreates", "fragments created"},

	{"ICMP.InMsgs", "ICMP messages received"},
	{"ICMP.InErrors", "input ICMP message failed"},
	{"ICMP.InCsumErrors", "  with a bad checksum"},
	{"ICMP.InEchos", "echo requests received"},
	{"ICMP.InEchoReps", "echo replies received"},
	{"ICMP.InDestUnreachs", "destination unreachable received"},
	{"ICMP.InTimeExcds", "time exceeded received"},
	{"ICMP.InParmProbs", "parameter problems received"},
	{"ICMP.InUnknownTypes", "messages of unknown type received"},
	{"ICMP.InErrorsDelivered", "errors passed to the socket they concern"},
	{"ICMP.OutMsgs", "ICMP messages sent"},
	{"ICMP.OutErrors", "ICMP messages failed"},
	{"ICMP.OutEchos", "echo requests sent"},
	{"ICMP.OutEchoReps", "echo replies sent"},
	{"ICMP.OutDestUnreachs", "destination unreachable sent"},
	{"ICMP.OutTimeExcds", "time exceeded sent"},
	{"ICMP.OutRateLimited", "errors not sent because of the rate limit"},

	{"UDP.InDatagrams", "packets received"},
	{"UDP.NoPorts", "packets to unknown port received"},
	{"UDP.InErrors", "packet receive errors"},
	{"UDP.RcvbufErrors", "  receive buffer errors"},
	{"UDP.InCsumErrors", "  with a bad checksum"},
	{"UDP.InBadLength", "  with a bad length"},
	{"UDP.OutDatagrams", "packets sent"},

	{"TCP.ActiveOpens", "active connection openings"},
	{"TCP.PassiveOpens", "passive connection openings"},
	{"TCP.AttemptFails", "failed connection attempts"},
	{"TCP.EstabResets", "connection resets received"},
	{"TCP.CurrEstab", "connections established"},
	{"TCP.InSegs", "segments received"},
	{"TCP.OutSegs", "segments sent out"},
	{"TCP.RetransSegs", "segments retransmitted"},
	{"TCP.InErrs", "bad segments received"},
	{"TCP.InCsumErrors", "  with a bad checksum"},
	{"TCP.InBadHeader", "  with a bad header length"},
	{"TCP.InBadOptions", "  with malformed options"},
	{"TCP.InNotUnicast", "  to a broadcast or multicast address"},
	{"TCP.OutRsts", "resets sent"},
	{"TCP.InNoSocket", "segments for no socket, answered with a reset"},
	{"TCP.ListenOverflows", "times the listen queue of a socket overflowed"},
	{"TCP.ListenDrops", "SYNs to LISTEN sockets dropped"},
	{"TCP.SyncookiesSent", "SYN cookies sent"},
	{"TCP.SyncookiesRecv", "SYN cookies received"},
	{"TCP.SyncookiesFailed", "invalid SYN cookies received"},
	{"TCP.InICMPOutOfWindow", "ICMP packets dropped because they were out-of-window"},
}

// writeStats prints st in the manner of `netstat -s`: one heading per
// group (Link, ARP, IP, ICMP, UDP, TCP, in the order of stacknet.Stats), then
// one line per counter that is not zero. A group whose counters are all
// zero is left out.
func writeStats(w io.Writer, st stacknet.Stats, indent string) {
	v := reflect.ValueOf(st)
	for g := 0; g < v.NumField(); g++ {
		group := v.Type().Field(g).Name
		gv := v.Field(g)
		if gv.Kind() != reflect.Struct {
			continue
		}
		var lines []string
		printed := make(map[string]bool)
		line := func(name, text string) {
			printed[name] = true
			f := gv.FieldByName(name)
			if !f.IsValid() || !f.CanUint() || f.Uint() == 0 {
				return
			}
			sub := strings.TrimLeft(text, " ")
			pad := text[:len(text)-len(sub)]
			lines = append(lines, fmt.Sprintf("%s    %s%d %s\n", indent, pad, f.Uint(), sub))
		}
		for _, c := range counterLayout {
			if name, ok := strings.CutPrefix(c.key, group+"."); ok {
				line(name, c.text)
			}
		}
		for c := 0; c < gv.NumField(); c++ {
			if name := gv.Type().Field(c).Name; !printed[name] {
				line(name, name)
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(w, "%s%s:\n%s", indent, group, strings.Join(lines, ""))
		}
	}
}
