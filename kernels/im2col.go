package kernels

// ConvShape is the geometry of a 2-D convolution (or pooling) over one image
// of C x H x W producing OH x OW outputs per channel.
type ConvShape struct {
	C, H, W    int
	KH, KW     int
	SH, SW     int
	PadT, PadL int
	DH, DW     int
	OH, OW     int
}

// ColRows returns the rows of the im2col matrix: C*KH*KW.
func (s ConvShape) ColRows() int { return s.C * s.KH * s.KW }

// ColCols returns the columns of the im2col matrix: OH*OW.
func (s ConvShape) ColCols() int { return s.OH * s.OW }

// Im2col writes the im2col matrix of one image x[C,H,W] into col, which has
// ColRows() x ColCols() elements: row (c*KH+i)*KW+j, column oy*OW+ox holds
// x[c, oy*SH-PadT+i*DH, ox*SW-PadL+j*DW], or 0 outside the image.
func Im2col(x []float32, s ConvShape, col []float32) {
	for c := range s.C {
		for i := range s.KH {
			for j := range s.KW {
				row := col[((c*s.KH+i)*s.KW+j)*s.OH*s.OW:]
				for oy := range s.OH {
					y := oy*s.SH - s.PadT + i*s.DH
					for ox := range s.OW {
						xx := ox*s.SW - s.PadL + j*s.DW
						v := float32(0)
						if y >= 0 && y < s.H && xx >= 0 && xx < s.W {
							v = x[(c*s.H+y)*s.W+xx]
						}
						row[oy*s.OW+ox] = v
					}
				}
			}
		}
	}
}

// Col2im is the adjoint of Im2col: it adds each element of col into the
// image position it was read from (positions in the padding are dropped).
// dx has C*H*W elements and is accumulated into, not overwritten.
func Col2im(col []float32, s ConvShape, dx []float32) {
	for c := range s.C {
		for i := range s.KH {
			for j := range s.KW {
				row := col[((c*s.KH+i)*s.KW+j)*s.OH*s.OW:]
				for oy := range s.OH {
					y := oy*s.SH - s.PadT + i*s.DH
					if y < 0 || y >= s.H {
						continue
					}
					for ox := range s.OW {
						xx := ox*s.SW - s.PadL + j*s.DW
						if xx >= 0 && xx < s.W {
							dx[(c*s.H+y)*s.W+xx] += row[oy*s.OW+ox]
						}
					}
				}
			}
		}
	}
}
