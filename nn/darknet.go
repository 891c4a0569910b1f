package nn

import "fmt"

// darknetS adds a small darknet-53-style residual net ("darknet-s"):
//
//	stem:   stem.conv 3x3 16 -> stem.bn -> stem.act (LeakyRelu 0.1)
//	stages s1, s2, s3 of widths 32, 64, 128, each:
//	  sK.ds.conv 3x3 stride 2 (doubling the width) -> sK.ds.bn -> sK.ds.act
//	  one residual block sK.b0:
//	    conv1 1x1 to width/2 -> bn1 -> act1,
//	    conv2 3x3 back to width -> bn2 -> act2,
//	    add (act2 + block input); no activation after the add, as in darknet
//	head:   pool (global average) -> flatten -> fc
//
// Every activation is LeakyRelu with alpha 0.1. The Kaiming fan-out
// initialisation uses the ReLU gain (see the package comment).
func darknetS(b *builder) {
	x := b.conv("stem.conv", b.cur, b.ch, 16, 3, 1, 1)
	x = b.bn("stem.bn", x, 16)
	x = b.leaky("stem.act", x)
	cin := 16
	for s, width := range []int{32, 64, 128} {
		p := fmt.Sprintf("s%d.", s+1)
		x = b.conv(p+"ds.conv", x, cin, width, 3, 2, 1)
		x = b.bn(p+"ds.bn", x, width)
		x = b.leaky(p+"ds.act", x)
		q := p + "b0."
		y := b.conv(q+"conv1", x, width, width/2, 1, 1, 1)
		y = b.bn(q+"bn1", y, width/2)
		y = b.leaky(q+"act1", y)
		y = b.conv(q+"conv2", y, width/2, width, 3, 1, 1)
		y = b.bn(q+"bn2", y, width)
		y = b.leaky(q+"act2", y)
		x = b.add(q+"add", y, x)
		cin = width
	}
	b.cur, b.ch = x, cin
}
