package tcp

// ScoreboardMaxRanges is the most SACKed ranges a Scoreboard keeps. When a
// SACK block would open one more, the highest range (possibly the new one)
// is forgotten. Forgetting is safe: the data is then merely taken as not
// SACKed, so at worst it is retransmitted needlessly; the ranges nearest
// SND.UNA are kept because they decide which holes are lost first.
const ScoreboardMaxRanges = 64

// sackDupThresh is DupThresh (RFC 6675 2, RFC 5681 3.2): the number of
// duplicate acknowledgments, or of SACKed segments, taken as a loss.
const sackDupThresh = 3

// Scoreboard is a sender's record of which octets between SND.UNA and
// SND.NXT the peer has reported in SACK blocks (RFC 2018, the scoreboard
// of RFC 6675 3), with the queries of the SACK-based loss recovery of
// RFC 6675 4: IsLost, NextSeg and SetPipe (Pipe).
//
// RFC 6675 numbers octets inclusively (HighACK is the highest octet
// acknowledged, HighRxt the highest octet retransmitted); here every edge
// is exclusive, as SND.UNA and SND.NXT are: sndUna is HighACK+1, sndNxt is
// HighData+1, and highRxt is HighRxt+1, the sequence number just past the
// last octet retransmitted in this recovery (sndUna, or anything before
// it, when nothing has been).
//
// The zero value is an empty scoreboard. It never allocates, every
// operation takes time linear in the number of ranges, and it is not safe
// for concurrent use.
type Scoreboard struct {
	ranges [ScoreboardMaxRanges]SACKBlock // sorted, disjoint, not touching
	n      int                            // ranges in use
	sacked int                            // octets in the ranges
	una    Seq                            // SND.UNA at the last Reset or Update

	dsack    SACKBlock // the D-SACK block of the last Update, when hasDSACK
	hasDSACK bool
}

// Reset empties the scoreboard, as at the start of a connection or after a
// retransmission timeout (RFC 2018 8 has the sender forget SACK
// information then, as the receiver may have reneged; RFC 6675 5.1
// discusses keeping it).
func (s *Scoreboard) Reset(sndUna Seq) {
	*s = Scoreboard{una: sndUna}
}

// Empty reports whether no octet is SACKed.
func (s *Scoreboard) Empty() bool { return s.n == 0 }

// SackedBytes is the number of octets SACKed above SND.UNA.
func (s *Scoreboard) SackedBytes() int { return s.sacked }

// HighestSacked is the sequence number just past the highest SACKed octet
// (RFC 6675 NextSeg (1.b): the highest octet covered by any SACK, plus
// one), or SND.UNA when nothing is SACKed.
func (s *Scoreboard) HighestSacked() Seq {
	if s.n == 0 {
		return s.una
	}
	return s.ranges[s.n-1].End
}

// IsSacked reports whether octet seq has been SACKed.
func (s *Scoreboard) IsSacked(seq Seq) bool {
	for i := range s.n {
		if seq.InRange(s.ranges[i].Start, s.ranges[i].End) {
			return true
		}
	}
	return false
}

// DSACK returns the D-SACK block (RFC 2883) of the last Update, if its
// first block was one: a report that the peer received the octets twice,
// which the caller may use to undo a spurious retransmission (RFC 3708)
// or to adapt DupThresh. A D-SACK block is not SACK information and does
// not enter the scoreboard.
func (s *Scoreboard) DSACK() (SACKBlock, bool) { return s.dsack, s.hasDSACK }

// Update takes in the SACK blocks of an acceptable ACK, one with SND.UNA
// =< SEG.ACK =< SND.NXT (RFC 9293 3.10.7.4); sndUna is SND.UNA after the
// ACK, its SEG.ACK. Ranges now cumulatively acknowledged are dropped.
// It returns how many octets became SACKed that were not, the SACK part
// of RFC 6937's DeliveredData.
//
// RFC 2883 4: the first block is a D-SACK, reported by DSACK and kept out
// of the scoreboard, when it starts before SEG.ACK or lies within the
// second block. The other blocks count from SND.UNA on: a block that is
// empty, ends after SND.NXT or ends at or before SND.UNA cannot describe
// outstanding data and is ignored, and one starting before SND.UNA is cut
// there, as the rest of it is true. The blocks are merged into the
// ranges held, in any order and overlapping as they may (RFC 2018 4 has
// receivers repeat blocks).
func (s *Scoreboard) Update(sndUna Seq, blocks []SACKBlock, sndNxt Seq) (newlySacked int) {
	s.una = sndUna
	s.hasDSACK = false
	s.trim(sndUna, sndNxt)
	if len(blocks) > 0 {
		b := blocks[0]
		if b.Start.LessThan(b.End) && (b.Start.LessThan(sndUna) && b.End.LessEq(sndNxt) ||
			len(blocks) > 1 && blocks[1].Start.LessEq(b.Start) && b.End.LessEq(blocks[1].End)) {
			s.dsack, s.hasDSACK = b, true
			blocks = blocks[1:]
		}
	}
	for _, b := range blocks {
		if !b.Start.LessThan(b.End) || b.End.GreaterThan(sndNxt) || b.End.LessEq(sndUna) {
			continue
		}
		newlySacked += s.insert(b.Start.Max(sndUna), b.End)
	}
	return newlySacked
}

// trim drops the parts of ranges before sndUna or after sndNxt.
func (s *Scoreboard) trim(sndUna, sndNxt Seq) {
	k := 0
	for k < s.n && s.ranges[k].End.LessEq(sndUna) {
		s.sacked -= blockLen(s.ranges[k])
		k++
	}
	if k > 0 {
		s.n = copy(s.ranges[:], s.ranges[k:s.n])
	}
	if s.n > 0 && s.ranges[0].Start.LessThan(sndUna) {
		s.sacked -= int(sndUna.Diff(s.ranges[0].Start))
		s.ranges[0].Start = sndUna
	}
	for s.n > 0 && s.ranges[s.n-1].Start.GreaterEq(sndNxt) {
		s.n--
		s.sacked -= blockLen(s.ranges[s.n])
	}
	if s.n > 0 && s.ranges[s.n-1].End.GreaterThan(sndNxt) {
		s.sacked -= int(s.ranges[s.n-1].End.Diff(sndNxt))
		s.ranges[s.n-1].End = sndNxt
	}
}

// blockLen is the number of octets in b, Start before End.
func blockLen(b SACKBlock) int { return int(b.End.Diff(b.Start)) }

// insert merges [start, end) into the ranges and returns how many of its
// octets were not SACKed before.
func (s *Scoreboard) insert(start, end Seq) int {
	i := 0
	for i < s.n && s.ranges[i].End.LessThan(start) {
		i++
	}
	j := i
	for j < s.n && s.ranges[j].Start.LessEq(end) {
		j++
	}
	if i == j {
		if s.n == ScoreboardMaxRanges {
			if i == s.n {
				return 0 // the new range is the highest: forget it
			}
			s.n-- // forget the highest
			s.sacked -= blockLen(s.ranges[s.n])
		}
		copy(s.ranges[i+1:s.n+1], s.ranges[i:s.n])
		s.ranges[i] = SACKBlock{start, end}
		s.n++
		s.sacked += blockLen(s.ranges[i])
		return blockLen(s.ranges[i])
	}
	old := 0
	for k := i; k < j; k++ {
		old += blockLen(s.ranges[k])
	}
	m := SACKBlock{start.Min(s.ranges[i].Start), end.Max(s.ranges[j-1].End)}
	s.ranges[i] = m
	s.n = i + 1 + copy(s.ranges[i+1:], s.ranges[j:s.n])
	s.sacked += blockLen(m) - old
	return blockLen(m) - old
}

// lost reports the RFC 6675 IsLost verdict for the octets in the hole
// just below range i, given above, the octets SACKed in ranges i and up:
// DupThresh discontiguous SACKed ranges above them, or more than
// (DupThresh-1)*SMSS SACKed octets.
func (s *Scoreboard) lost(i, above, mss int) bool {
	return s.n-i >= sackDupThresh || above > (sackDupThresh-1)*mss
}

// IsLost is RFC 6675's IsLost(SeqNum): whether the octet seq is taken as
// lost, because DupThresh (3) discontiguous SACKed ranges lie wholly above
// it, or more than (DupThresh-1)*mss SACKed octets have sequence numbers
// greater than seq. mss is the sender's SMSS (taken as 1 if smaller).
func (s *Scoreboard) IsLost(seq Seq, mss int) bool {
	mss = max(mss, 1)
	count, bytes := 0, 0
	for i := s.n - 1; i >= 0; i-- {
		r := s.ranges[i]
		switch {
		case r.Start.GreaterThan(seq):
			count++
			bytes += blockLen(r)
		case r.End.GreaterThan(seq.Add(1)):
			bytes += int(r.End.Diff(seq.Add(1)))
		}
		if count >= sackDupThresh || bytes > (sackDupThresh-1)*mss {
			return true
		}
		if !r.Start.GreaterThan(seq) {
			break
		}
	}
	return false
}

// NextSeg is rule (1) of RFC 6675's NextSeg(): the first segment to
// retransmit, up to mss octets starting at the lowest unSACKed octet S2
// that is (1.a) not yet retransmitted in this recovery (at or after
// highRxt), (1.b) below the highest SACKed octet and (1.c) lost by
// IsLost. The segment ends at mss octets or at the next SACKed octet,
// whichever is first. ok is false when no octet qualifies; rule (2), new
// data, is then the caller's, and NextSegUnsacked and RescueSeg are rules
// (3) and (4).
func (s *Scoreboard) NextSeg(sndUna, sndNxt, highRxt Seq, mss int) (start Seq, length int, ok bool) {
	mss = max(mss, 1)
	from := sndUna.Max(highRxt)
	holeStart, above := sndUna, s.sacked
	for i := range s.n {
		r := s.ranges[i]
		if !s.lost(i, above, mss) {
			break // the holes above are no more lost than this one
		}
		if st := holeStart.Max(from); st.LessThan(r.Start.Min(sndNxt)) {
			return st, min(mss, int(r.Start.Min(sndNxt).Diff(st))), true
		}
		holeStart, above = r.End, above-blockLen(r)
	}
	return 0, 0, false
}

// NextSegUnsacked is rule (3) of RFC 6675's NextSeg(), for when neither
// rule (1) (NextSeg) nor rule (2) (new data) gives a segment: up to mss
// octets from the lowest unSACKed octet at or after highRxt and below the
// highest SACKed octet, lost or not. RFC 6675 4 asks that it be used with
// care, as it puts a second copy of data that may not be lost in the
// network.
func (s *Scoreboard) NextSegUnsacked(sndUna, highRxt Seq, mss int) (start Seq, length int, ok bool) {
	mss = max(mss, 1)
	from := sndUna.Max(highRxt)
	holeStart := sndUna
	for i := range s.n {
		r := s.ranges[i]
		if st := holeStart.Max(from); st.LessThan(r.Start) {
			return st, min(mss, int(r.Start.Diff(st))), true
		}
		holeStart = r.End
	}
	return 0, 0, false
}

// RescueSeg is the segment of rule (4) of RFC 6675's NextSeg(), the
// rescue retransmission: up to mss octets ending with the highest
// outstanding unSACKed octet, below sndNxt. ok is false when every octet
// outstanding is SACKed. The conditions of rule (4) are the caller's: no
// other rule gave a segment, and no rescue was sent yet in this recovery
// (SND.UNA after RescueRxt, or none); after sending it, the caller sets
// RescueRxt to RecoveryPoint and leaves HighRxt alone.
func (s *Scoreboard) RescueSeg(sndUna, sndNxt Seq, mss int) (start Seq, length int, ok bool) {
	mss = max(mss, 1)
	end, floor := sndNxt, sndUna
	if s.n > 0 {
		top := s.ranges[s.n-1]
		if top.End.GreaterEq(sndNxt) {
			end = top.Start
			if s.n > 1 {
				floor = s.ranges[s.n-2].End
			}
		} else {
			floor = top.End
		}
	}
	floor = floor.Max(sndUna)
	if !floor.LessThan(end) {
		return 0, 0, false
	}
	start = end.Add(-mss).Max(floor)
	return start, int(end.Diff(start)), true
}

// Pipe is RFC 6675's SetPipe(): the octets taken to be in the network,
// counting each unSACKed octet from sndUna to sndNxt once if IsLost is
// false for it and once more if it was retransmitted (below highRxt).
// SACKed octets count nothing. Since IsLost is the same for all the
// octets of a hole between two SACKed ranges, Pipe works hole by hole.
func (s *Scoreboard) Pipe(sndUna, sndNxt, highRxt Seq, mss int) int {
	mss = max(mss, 1)
	if !sndUna.LessThan(sndNxt) {
		return 0
	}
	rxt := highRxt.Max(sndUna).Min(sndNxt)
	pipe := 0
	hole := func(a, b Seq, lost bool) {
		a = a.Max(sndUna)
		b = b.Min(sndNxt)
		if !a.LessThan(b) {
			return
		}
		if !lost {
			pipe += int(b.Diff(a)) // (a) not lost: still in flight
		}
		if a.LessThan(rxt) {
			pipe += int(rxt.Min(b).Diff(a)) // (b) retransmitted
		}
	}
	holeStart, above := sndUna, s.sacked
	for i := range s.n {
		r := s.ranges[i]
		hole(holeStart, r.Start, s.lost(i, above, mss))
		holeStart, above = r.End, above-blockLen(r)
	}
	hole(holeStart, sndNxt, false)
	return pipe
}
