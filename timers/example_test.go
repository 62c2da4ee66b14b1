package timers_test

import (
	"fmt"
	"time"

	"github.com/stacknet/stacknet/timers"
)

// A connection embeds its timers; a test drives them with a Fake clock.
func Example() {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := timers.NewFake(start)
	s := timers.New(clock)
	defer s.Close()

	type conn struct {
		retransmit timers.Timer
		tries      int
	}
	c := new(conn)
	c.retransmit.Init(s, func() {
		c.tries++
		fmt.Printf("retransmit %d at +%v\n", c.tries, clock.Now().Sub(start))
		if c.tries < 3 {
			c.retransmit.Reset(time.Duration(c.tries) * 2 * time.Second) // back off
		}
	})
	c.retransmit.Reset(time.Second)
	clock.Advance(time.Minute)
	// Output:
	// retransmit 1 at +1s
	// retransmit 2 at +3s
	// retransmit 3 at +7s
}
