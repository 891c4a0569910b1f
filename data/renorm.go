package data

import "fmt"

// Renormalise rewrites images x (N images of c channels of hw pixels each,
// normalised as (p - fromMean[ch]) / fromStd[ch]) in place so they read as
// (p - toMean[ch]) / toStd[ch]. All four slices have length c (one value is
// repeated over the channels); a zero std or a length that fits neither is
// an error, and x is then left unchanged.
func Renormalise(x []float32, c, hw int, fromMean, fromStd, toMean, toStd []float32) error {
	if c <= 0 || hw <= 0 || len(x)%(c*hw) != 0 {
		return fmt.Errorf("renormalise: %d values are not whole images of %dx%d", len(x), c, hw)
	}
	scale := make([]float32, c)
	shift := make([]float32, c)
	for ch := range c {
		fm, fs, tm, ts, err := pick4(ch, c, fromMean, fromStd, toMean, toStd)
		if err != nil {
			return err
		}
		// p = v*fs + fm, so v' = (v*fs + fm - tm) / ts.
		scale[ch] = fs / ts
		shift[ch] = (fm - tm) / ts
	}
	for i := 0; i < len(x); i += c * hw {
		for ch := range c {
			a, b := scale[ch], shift[ch]
			row := x[i+ch*hw : i+(ch+1)*hw]
			for j, v := range row {
				row[j] = v*a + b
			}
		}
	}
	return nil
}

func pick4(ch, c int, s ...[]float32) (fm, fs, tm, ts float32, err error) {
	var v [4]float32
	for k, sl := range s {
		switch len(sl) {
		case c:
			v[k] = sl[ch]
		case 1:
			v[k] = sl[0]
		default:
			return 0, 0, 0, 0, fmt.Errorf("renormalise: %d statistics for %d channels", len(sl), c)
		}
	}
	if v[1] == 0 || v[3] == 0 {
		return 0, 0, 0, 0, fmt.Errorf("renormalise: zero standard deviation")
	}
	return v[0], v[1], v[2], v[3], nil
}
