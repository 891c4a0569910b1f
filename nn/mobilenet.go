package nn

import "fmt"

// mobilenetS adds a small MobileNetV2-style net ("mobilenet-s") of inverted
// residual blocks; ReLU6 is Clip(min 0, max 6).
//
//	stem:  stem.conv 3x3 16 -> stem.bn -> stem.relu6
//	stages (expansion t, width c, blocks n, first stride s):
//	  s1 (1, 16, 1, 1), s2 (4, 24, 2, 2), s3 (4, 32, 2, 2), s4 (4, 64, 1, 1)
//	block sK.bJ with input width cin and hidden width h = t*cin:
//	  expand.conv 1x1 cin->h -> expand.bn -> expand.relu6   (only when t > 1)
//	  dw.conv 3x3 depthwise (group = h, stride s on the stage's first block)
//	    -> dw.bn -> dw.relu6
//	  project.conv 1x1 h->c -> project.bn                   (linear bottleneck)
//	  add (project.bn + block input) when the stride is 1 and cin == c
//	head:  head.conv 1x1 128 -> head.bn -> head.relu6 -> pool -> flatten -> fc
func mobilenetS(b *builder) {
	x := b.conv("stem.conv", b.cur, b.ch, 16, 3, 1, 1)
	x = b.bn("stem.bn", x, 16)
	x = b.relu6("stem.relu6", x)
	cin := 16
	for s, st := range []struct{ t, c, n, stride int }{
		{1, 16, 1, 1}, {4, 24, 2, 2}, {4, 32, 2, 2}, {4, 64, 1, 1},
	} {
		for j := range st.n {
			stride := 1
			if j == 0 {
				stride = st.stride
			}
			p := fmt.Sprintf("s%d.b%d.", s+1, j)
			h := st.t * cin
			y := x
			if st.t != 1 {
				y = b.conv(p+"expand.conv", y, cin, h, 1, 1, 1)
				y = b.bn(p+"expand.bn", y, h)
				y = b.relu6(p+"expand.relu6", y)
			}
			y = b.conv(p+"dw.conv", y, h, h, 3, stride, h)
			y = b.bn(p+"dw.bn", y, h)
			y = b.relu6(p+"dw.relu6", y)
			y = b.conv(p+"project.conv", y, h, st.c, 1, 1, 1)
			y = b.bn(p+"project.bn", y, st.c)
			if stride == 1 && cin == st.c {
				y = b.add(p+"add", y, x)
			}
			x, cin = y, st.c
		}
	}
	x = b.conv("head.conv", x, cin, 128, 1, 1, 1)
	x = b.bn("head.bn", x, 128)
	x = b.relu6("head.relu6", x)
	b.cur, b.ch = x, 128
}
