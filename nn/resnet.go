package nn

import "fmt"

// resnetCIFAR adds a CIFAR-style ResNet (He et al. 2016, section 4.2) with
// `blocks` basic blocks per stage; blocks 1 gives resnet8, 3 gives resnet20.
//
//	stem:   stem.conv 3x3 16 -> stem.bn -> stem.relu
//	stages: s1, s2, s3 of widths 16, 32, 64; s2 and s3 start with stride 2
//	block sK.bJ:  conv1 3x3 (stride) -> bn1 -> relu1 -> conv2 3x3 -> bn2
//	              shortcut: the block input, or down.conv 1x1 stride 2 -> down.bn
//	              (projection, option B) when the stride or width changes
//	              add (bn2 + shortcut) -> relu2
//
// For a [1,28,28] input and 10 classes resnet8 has 77,754 trainable
// parameters and 9.35 M MACs, resnet20 272,186 and 31.0 M, matching
// PyTorch's count of the same nets.
func resnetCIFAR(b *builder, blocks int) {
	x := b.conv("stem.conv", b.cur, b.ch, 16, 3, 1, 1)
	x = b.bn("stem.bn", x, 16)
	x = b.relu("stem.relu", x)
	cin := 16
	for s, width := range []int{16, 32, 64} {
		for j := range blocks {
			stride := 1
			if s > 0 && j == 0 {
				stride = 2
			}
			p := fmt.Sprintf("s%d.b%d.", s+1, j)
			y := b.conv(p+"conv1", x, cin, width, 3, stride, 1)
			y = b.bn(p+"bn1", y, width)
			y = b.relu(p+"relu1", y)
			y = b.conv(p+"conv2", y, width, width, 3, 1, 1)
			y = b.bn(p+"bn2", y, width)
			short := x
			if stride != 1 || cin != width {
				short = b.conv(p+"down.conv", x, cin, width, 1, stride, 1)
				short = b.bn(p+"down.bn", short, width)
			}
			y = b.add(p+"add", y, short)
			x = b.relu(p+"relu2", y)
			cin = width
		}
	}
	b.cur, b.ch = x, cin
}
