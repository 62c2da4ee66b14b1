package tcptest_test

import (
	"fmt"

	"github.com/stacknet/stacknet/proto/tcp"
	"github.com/stacknet/stacknet/proto/tcp/tcptest"
)

func ExampleParse() {
	steps, err := tcptest.Parse(`
0     < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
+0    > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 7>
+.01  < . 1:1(0) ack 1 win 512 <nop,nop,TS val 110 ecr *>
+0    accept() = 0
+0    write(1000) = 1000
+0    > P. 1:1001(1000) ack 1 <nop,nop,TS val * ecr 110>
+.2~+.25 > P. 1:1001(1000) ack 1      // a time range: retransmission expected between
*     > F. 1001:1001(0) ack 1          // any time
+0    read(100) = -1 EAGAIN
+0    close() = 0
+1    < R. 1:1(0) ack 1001 win 0
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range steps {
		fmt.Printf("%2d %s\n", st.Line, st)
	}
	// Output:
	//  2 0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
	//  3 +0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 7>
	//  4 +0.01 < . 1:1(0) ack 1 win 512 <nop,nop,TS val 110 ecr *>
	//  5 +0 accept() = 0
	//  6 +0 write(1000) = 1000
	//  7 +0 > P. 1:1001(1000) ack 1 <nop,nop,TS val * ecr 110>
	//  8 +0.2~+0.25 > P. 1:1001(1000) ack 1
	//  9 * > F. 1001:1001(0) ack 1
	// 10 +0 read(100) = -1 EAGAIN
	// 11 +0 close() = 0
	// 12 +1 < R. 1:1(0) ack 1001 win 0
}

func ExampleParse_error() {
	_, err := tcptest.Parse("0 listen() = 0\n+0 > . 1:1(0) ack\n")
	fmt.Println(err)
	// Output: line 2: expected ack number after "ack", found end of line
}

func ExampleSegment_Match() {
	steps, _ := tcptest.Parse("0 > P. 1:1001(1000) ack 1 <nop,nop,TS val * ecr 110>")
	want := steps[0].Seg

	// What the machine sent, on the wire: ISN 5000, the peer's 9000.
	opts := tcp.Options{TS: true, TSVal: 4242, TSEcr: 100}
	b := make([]byte, tcp.HeaderLen+tcp.OptionsLen(&opts)+1000)
	tcp.PutHeader(b, tcp.Fields{Seq: 5001, Ack: 9001, Flags: tcp.PSH | tcp.ACK, Window: 502}, &opts)
	h, _ := tcp.Parse(b)
	got, _ := tcptest.SegmentOf(h, 5000, 9000)

	fmt.Println("want", want)
	fmt.Println("got ", tcptest.FormatActual(h, 5000, 9000))
	fmt.Println(want.Match(got))
	// Output:
	// want P. 1:1001(1000) ack 1 <nop,nop,TS val * ecr 110>
	// got  P. 1:1001(1000) ack 1 win 502 <nop,nop,TS val 4242 ecr 100>
	// option 3: want "TS val * ecr 110", got "TS val 4242 ecr 100"
}
