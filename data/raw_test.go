package data

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestResizeMatchesTorch compares with values printed by PyTorch 1.13:
// F.interpolate(x, size, mode="bilinear", align_corners=False).
func TestResizeMatchesTorch(t *testing.T) {
	for _, tc := range []struct {
		name       string
		in         []uint8
		h, w       int
		outH, outW int
		want       []float64
	}{
		{"2x2 up to 4x4", []uint8{0, 100, 200, 40}, 2, 2, 4, 4, []float64{
			0, 25, 75, 100,
			50, 58.75, 76.25, 85,
			150, 126.25, 78.75, 55,
			200, 160, 80, 40}},
		// x[i] = 37*i mod 256, 3x5 to 7x2 (up in H, down in W).
		{"3x5 to 7x2", []uint8{0, 37, 74, 111, 148, 185, 222, 3, 40, 77, 114, 151, 188, 225, 6}, 3, 5, 7, 2, []float64{
			27.75, 120.25, 54.17857, 110.10714, 133.46429, 79.67857, 212.75, 49.25,
			182.32143, 101.10715, 151.89285, 152.96428, 141.75, 170.25}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Raw{Pix: tc.in, Labels: []int32{0}, N: 1, C: 1, H: tc.h, W: tc.w}
			got := r.Resize(tc.outH, tc.outW)
			if got.H != tc.outH || got.W != tc.outW || len(got.Pix) != len(tc.want) {
				t.Fatalf("shape %dx%d, %d pixels", got.H, got.W, len(got.Pix))
			}
			for i, v := range got.Pix {
				if math.Abs(float64(v)-tc.want[i]) > 0.5+1e-3 {
					t.Errorf("pixel %d = %d, torch gives %.4f", i, v, tc.want[i])
				}
			}
		})
	}
}

// naiveBilinear samples the continuous image at the half-pixel position of
// output (y, x), written directly from the definition.
func naiveBilinear(src []uint8, h, w, outH, outW, y, x int) float64 {
	coord := func(o, in, out int) (int, int, float64) {
		s := (float64(o)+0.5)*float64(in)/float64(out) - 0.5
		s = math.Max(s, 0)
		a := int(s)
		if a >= in-1 {
			return in - 1, in - 1, 0
		}
		return a, a + 1, s - float64(a)
	}
	y0, y1, fy := coord(y, h, outH)
	x0, x1, fx := coord(x, w, outW)
	p := func(yy, xx int) float64 { return float64(src[yy*w+xx]) }
	return (1-fy)*((1-fx)*p(y0, x0)+fx*p(y0, x1)) + fy*((1-fx)*p(y1, x0)+fx*p(y1, x1))
}

func TestResizeAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		h, w := 1+rng.IntN(9), 1+rng.IntN(9)
		oh, ow := 1+rng.IntN(12), 1+rng.IntN(12)
		r := &Raw{N: 2, C: 3, H: h, W: w, Labels: []int32{0, 1}, Pix: make([]uint8, 2*3*h*w)}
		for i := range r.Pix {
			r.Pix[i] = uint8(rng.IntN(256))
		}
		got := r.Resize(oh, ow)
		for p := range 6 {
			for y := range oh {
				for x := range ow {
					want := naiveBilinear(r.Pix[p*h*w:(p+1)*h*w], h, w, oh, ow, y, x)
					if g := got.Pix[p*oh*ow+y*ow+x]; math.Abs(float64(g)-want) > 0.5+1e-3 {
						t.Fatalf("trial %d %dx%d->%dx%d plane %d (%d,%d): got %d, want %.3f", trial, h, w, oh, ow, p, y, x, g, want)
					}
				}
			}
		}
	}
	// Same size: identity, no copy.
	r := &Raw{N: 1, C: 1, H: 2, W: 2, Labels: []int32{0}, Pix: []uint8{1, 2, 3, 4}}
	if r.Resize(2, 2) != r {
		t.Fatal("same-size resize copied")
	}
}

func TestStatsAndNormalize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	r := &Raw{N: 5, C: 3, H: 4, W: 3, Labels: []int32{0, 1, 2, 0, 1}, Pix: make([]uint8, 5*3*12)}
	for i := range r.Pix {
		r.Pix[i] = uint8(rng.IntN(256))
	}
	mean, std := r.Stats()
	for c := range 3 {
		var s, ss, n float64
		for i := range r.N {
			for _, p := range r.Pix[(i*3+c)*12 : (i*3+c+1)*12] {
				v := float64(p) / 255
				s += v
				ss += v * v
				n++
			}
		}
		m := s / n
		sd := math.Sqrt(ss/n - m*m)
		if math.Abs(float64(mean[c])-m) > 1e-6 || math.Abs(float64(std[c])-sd) > 1e-6 {
			t.Fatalf("channel %d: stats %g/%g, naive %g/%g", c, mean[c], std[c], m, sd)
		}
	}
	d, err := r.Normalize(mean, std)
	if err != nil {
		t.Fatal(err)
	}
	// The normalised training set has mean 0 and std 1 per channel.
	for c := range 3 {
		var s, ss, n float64
		for i := range d.Len() {
			for _, v := range d.X[(i*3+c)*12 : (i*3+c+1)*12] {
				s += float64(v)
				ss += float64(v) * float64(v)
				n++
			}
		}
		if m, v := s/n, ss/n-(s/n)*(s/n); math.Abs(m) > 1e-5 || math.Abs(v-1) > 1e-4 {
			t.Fatalf("channel %d after normalising: mean %g var %g", c, m, v)
		}
	}
	if d.C != 3 || d.H != 4 || d.W != 3 || d.Len() != 5 || len(d.Mean) != 3 || len(d.Std) != 3 {
		t.Fatalf("dataset shape C=%d H=%d W=%d N=%d stats %d/%d", d.C, d.H, d.W, d.Len(), len(d.Mean), len(d.Std))
	}
	// A constant channel gets std 1 rather than a division by zero.
	flat := &Raw{N: 1, C: 1, H: 2, W: 2, Labels: []int32{0}, Pix: []uint8{51, 51, 51, 51}}
	if m, s := flat.Stats(); math.Abs(float64(m[0])-0.2) > 1e-6 || s[0] != 1 {
		t.Fatalf("constant image stats %v %v", m, s)
	}
}

func TestNormalizeErrors(t *testing.T) {
	r := &Raw{N: 1, C: 3, H: 1, W: 1, Labels: []int32{0}, Pix: []uint8{1, 2, 3}}
	for _, tc := range []struct {
		name      string
		mean, std []float32
		want      string
	}{
		{"two channels of stats", []float32{0, 0}, []float32{1, 1}, "2 means and 2 stds for 3 channels"},
		{"zero std", []float32{0}, []float32{0}, "std must be positive"},
		{"NaN std", []float32{0}, []float32{float32(math.NaN())}, "std must be positive"},
		{"length mismatch", []float32{0, 0, 0}, []float32{1}, "3 means and 1 stds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Normalize(tc.mean, tc.std); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestToChannels(t *testing.T) {
	rgb := &Raw{N: 1, C: 3, H: 1, W: 2, Labels: []int32{0}, Pix: []uint8{255, 10, 0, 20, 0, 30}}
	g, err := rgb.ToChannels(1)
	if err != nil {
		t.Fatal(err)
	}
	// 0.299*255 + 0.587*0 + 0.114*0 = 76.2; 0.299*10 + 0.587*20 + 0.114*30 = 18.15.
	if g.C != 1 || g.Pix[0] != 76 || g.Pix[1] != 18 {
		t.Fatalf("gray = C%d %v", g.C, g.Pix)
	}
	back, err := g.ToChannels(3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint8{76, 18, 76, 18, 76, 18}; string(back.Pix) != string(want) {
		t.Fatalf("gray to RGB = %v, want %v", back.Pix, want)
	}
	if _, err := rgb.ToChannels(2); err == nil {
		t.Fatal("2 channels accepted")
	}
}
