package engine

// The residual gradient sum in a Conv's input-gradient chunks.
//
// A ResNet block's output is read by the next block's first Conv and by
// its Add (the skip). Backward reaches the Add first; the Conv's input
// gradient is the value's last contribution, and Executor.sumGrads adds
// the two in a pass of its own, masked by the block's Add+ReLU output and
// gathering the backward sums of the BN whose deferred output that Add
// took (maskedSumGather): a pass that reads the Conv's input gradient
// back from memory right after the Conv wrote it. With the sum handed to
// the Conv (Executor.residualSum), each chunk of images finishes its input
// gradient with the same per-image calls while it is still in cache, and
// the Conv's dX tensor is the sum: bitwise the same values and BN sums.

// dxSum is the masked sum a Conv's input gradient ends in: dX = (o > 0 ?
// prev + dX : 0) image by image, then bn's backward sums gathered from it
// (bn nil: none).
type dxSum struct {
	o, prev []float32
	bn      *bnKernel
	done    bool // set by the Conv that wrote the sum into its dX
}

// begin readies the BN's per-plane slots for the gradient dx of n images
// of c channels.
func (s *dxSum) begin(dx []float32, n, c int) {
	if s.bn != nil {
		s.bn.part.begin(dx, n, c)
	}
}

// apply finishes images [lo, hi) of dx (img floats each, c channels) as
// maskedSumGather does.
func (s *dxSum) apply(dx []float32, img, c, lo, hi int) {
	for j := lo; j < hi; j++ {
		r := j * img
		vecAddReluBwd(s.o[r:r+img], s.prev[r:r+img], dx[r:r+img], dx[r:r+img])
		if s.bn != nil {
			s.bn.gatherPlanes(dx, j*c, (j+1)*c)
		}
	}
}

// fuseConvSums lets Backward hand residual sums to Convs; tests turn it
// off to compare with sumGrads' own pass.
var fuseConvSums = true
