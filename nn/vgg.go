package nn

import (
	"fmt"

	"github.com/slimgo/slimgo/graph"
)

// vggS adds a small VGG with BatchNormalization ("vgg-s"), a plain chain with
// no shortcuts (the topology network slimming was first shown on):
//
//	stage sK (K = 1, 2, 3; widths 16, 32, 64), two layers sK.cJ (J = 0, 1):
//	  sK.cJ.conv 3x3 -> sK.cJ.bn -> sK.cJ.relu
//	after s1 and s2: sK.pool, MaxPool 2x2 stride 2
//	head: pool (global average) -> flatten -> fc
func vggS(b *builder) {
	x, cin := b.cur, b.ch
	for s, width := range []int{16, 32, 64} {
		for j := range 2 {
			p := fmt.Sprintf("s%d.c%d.", s+1, j)
			x = b.conv(p+"conv", x, cin, width, 3, 1, 1)
			x = b.bn(p+"bn", x, width)
			x = b.relu(p+"relu", x)
			cin = width
		}
		if s < 2 {
			x = b.node(fmt.Sprintf("s%d.pool", s+1), graph.OpMaxPool, graph.Attrs{
				"kernel_shape": []int{2, 2},
				"strides":      []int{2, 2},
				"pads":         []int{0, 0, 0, 0},
			}, x)
		}
	}
	b.cur, b.ch = x, cin
}
