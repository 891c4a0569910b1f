package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// FuzzIDX feeds arbitrary image and label files to ReadIDX. It must return
// an error or a consistent Raw, never panic, and never hold more pixels
// than the (decompressed) input supplied.
func FuzzIDX(f *testing.F) {
	img, lab := idxBytes(3, 2, 2)
	f.Add(img, lab, 0)
	f.Add(gz(f, img), gz(f, lab), 2)
	f.Add(img[:10], lab, 0)
	f.Add([]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28}, lab, 1)
	f.Fuzz(func(t *testing.T, images, labels []byte, limit int) {
		r, err := ReadIDX(bytes.NewReader(images), bytes.NewReader(labels), limit)
		if err != nil {
			return
		}
		if err := r.check(); err != nil {
			t.Fatalf("inconsistent result: %v", err)
		}
		if limit > 0 && r.N > limit {
			t.Fatalf("limit %d but %d examples", limit, r.N)
		}
		if len(images) > 0 && images[0] != 0x1f && len(r.Pix) > len(images) {
			t.Fatalf("%d pixels from a %d-byte raw file", len(r.Pix), len(images))
		}
		if _, err := r.Normalize([]float32{0.5}, []float32{0.25}); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzImage feeds arbitrary bytes through the image-folder decoding path
// (header checks, decode, RGB conversion, resize). It must not panic and
// must reject oversized headers before allocating their pixels.
func FuzzImage(f *testing.F) {
	var pb, jb, cb bytes.Buffer
	g := image.NewGray(image.Rect(0, 0, 5, 3))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 17)
	}
	png.Encode(&pb, g)
	c := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for i := range c.Pix {
		c.Pix[i] = uint8(i * 13)
	}
	png.Encode(&cb, c)
	p := image.NewPaletted(image.Rect(0, 0, 3, 3), color.Palette{color.Black, color.RGBA{200, 0, 0, 255}})
	p.Pix[4] = 1
	var ppb bytes.Buffer
	png.Encode(&ppb, p)
	jpeg.Encode(&jb, c, &jpeg.Options{Quality: 50})
	for _, b := range [][]byte{pb.Bytes(), cb.Bytes(), ppb.Bytes(), jb.Bytes(), pngHeaderOnly(100000, 100000), jb.Bytes()[:40]} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const maxPixels = 1 << 20
		img, err := decodeImageLimit(b, "fuzz", maxPixels)
		if err != nil {
			return
		}
		bd := img.Bounds()
		if bd.Dx() <= 0 || bd.Dy() <= 0 || int64(bd.Dx())*int64(bd.Dy()) > maxPixels {
			t.Fatalf("accepted image of %v", bd)
		}
		pix, h, w, _ := imageRGB(img)
		if len(pix) != 3*h*w {
			t.Fatalf("%d bytes for %d x %d RGB", len(pix), h, w)
		}
		r := &Raw{Pix: pix, Labels: []int32{0}, N: 1, C: 3, H: h, W: w}
		if out := r.Resize(7, 5); len(out.Pix) != 3*7*5 {
			t.Fatalf("resize gave %d bytes", len(out.Pix))
		}
	})
}
