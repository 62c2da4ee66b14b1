package timers

import (
	"testing"
	"time"
)

// FuzzService runs a script of operations, decoded from the input, on a
// Service with a Fake clock and on a plain model of the contract (earliest
// deadline first, ties in arming order, a past deadline running at the
// time it is found due, callbacks re-arming themselves), and compares the
// calls.
//
// Each operation is three bytes: op, timer, argument. Timers 0-3 re-arm
// themselves from their callback, 1+timer ms later, twice after each
// Reset or ResetAt.
func FuzzService(f *testing.F) {
	f.Add([]byte{0, 0, 10, 0, 1, 5, 2, 0, 20})
	f.Add([]byte{0, 4, 10, 0, 5, 10, 0, 4, 10, 2, 0, 10})
	f.Add([]byte{0, 1, 50, 1, 1, 0, 2, 0, 100, 1, 1, 0})
	f.Add([]byte{2, 0, 7, 3, 6, 3, 0, 7, 0, 2, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 2, 0, 255, 0, 2, 1, 2, 0, 255})
	f.Fuzz(func(t *testing.T, script []byte) {
		const n = 8
		fk := NewFake(epoch)
		s := New(fk)
		defer s.Close()

		type call struct {
			k  int
			at time.Duration
		}
		type model struct {
			armed  bool
			when   time.Duration
			seq    int
			budget int
		}
		var got []call
		var ts [n]*Timer
		var budget [n]int
		for k := range ts {
			ts[k] = s.NewTimer(func() {
				got = append(got, call{k, fk.Now().Sub(epoch)})
				if k < 4 && budget[k] > 0 {
					budget[k]--
					ts[k].Reset(time.Duration(1+k) * ms)
				}
			})
		}

		var m [n]model
		var want []call
		var now time.Duration
		seq := 0
		arm := func(k int, when time.Duration) {
			m[k].armed, m[k].when, m[k].seq = true, when, seq
			seq++
		}
		for ; len(script) >= 3; script = script[3:] {
			op, k, arg := script[0]%4, int(script[1]%n), time.Duration(script[2])
			switch op {
			case 0: // Reset
				ts[k].Reset(arg * ms)
				arm(k, now+arg*ms)
				budget[k], m[k].budget = 2, 2
			case 1: // Stop
				if got, want := ts[k].Stop(), m[k].armed; got != want {
					t.Fatalf("Stop(%d) = %v, model says %v", k, got, want)
				}
				m[k].armed = false
			case 2: // Advance
				fk.Advance(arg * ms)
				target := now + arg*ms
				for {
					j := -1
					for i := range m {
						if m[i].armed && m[i].when <= target &&
							(j < 0 || m[i].when < m[j].when || m[i].when == m[j].when && m[i].seq < m[j].seq) {
							j = i
						}
					}
					if j < 0 {
						break
					}
					now = max(now, m[j].when)
					m[j].armed = false
					want = append(want, call{j, now})
					if j < 4 && m[j].budget > 0 {
						m[j].budget--
						arm(j, now+time.Duration(1+j)*ms)
					}
				}
				now = target
			case 3: // ResetAt, possibly in the past
				at := now - 128*ms + arg*ms
				ts[k].ResetAt(epoch.Add(at))
				arm(k, at)
				budget[k], m[k].budget = 2, 2
			}
			checkHeap(t, s)
			if len(got) != len(want) {
				t.Fatalf("calls %v, model %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("call %d = %v, model %v (calls %v, model %v)", i, got[i], want[i], got, want)
				}
			}
			armed := 0
			for k := range m {
				if ts[k].Pending() != m[k].armed {
					t.Fatalf("timer %d Pending = %v, model %v", k, ts[k].Pending(), m[k].armed)
				}
				if m[k].armed {
					armed++
					if d := ts[k].Deadline().Sub(epoch); d != m[k].when {
						t.Fatalf("timer %d Deadline %v, model %v", k, d, m[k].when)
					}
				}
			}
			if s.Len() != armed {
				t.Fatalf("Len = %d, model %d", s.Len(), armed)
			}
		}
	})
}
