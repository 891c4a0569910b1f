// Command mksample makes the class-balanced IDX samples bundled in
// data/sample from full IDX directories. It is deterministic: the same
// input gives byte-identical output (gzip without name or time stamp).
//
//	go run ./data/internal/mksample -src /usr/share/datasets/fashion-mnist -out data/sample/fashion-mnist
//
// From each split it keeps, in file order, the first -train (or -test)
// examples of every class, so the sample keeps the original order and is
// exactly balanced.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/slimgo/slimgo/data"
)

func main() {
	src := flag.String("src", "/usr/share/datasets/fashion-mnist", "directory of the full IDX files")
	out := flag.String("out", "data/sample/fashion-mnist", "output directory")
	perTrain := flag.Int("train", 600, "training examples per class")
	perTest := flag.Int("test", 100, "test examples per class")
	flag.Parse()
	if err := run(*src, *out, *perTrain, *perTest); err != nil {
		fmt.Fprintln(os.Stderr, "mksample:", err)
		os.Exit(1)
	}
}

func run(src, out string, perTrain, perTest int) error {
	for _, s := range []struct {
		prefix string
		per    int
	}{{"train", perTrain}, {"t10k", perTest}} {
		imgName := s.prefix + "-images-idx3-ubyte.gz"
		labName := s.prefix + "-labels-idx1-ubyte.gz"
		fi, err := os.Open(filepath.Join(src, imgName))
		if err != nil {
			return err
		}
		fl, err := os.Open(filepath.Join(src, labName))
		if err != nil {
			fi.Close()
			return err
		}
		raw, err := data.ReadIDX(fi, fl, 0)
		fi.Close()
		fl.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		count := map[int32]int{}
		var keep []int
		for i, l := range raw.Labels {
			if count[l] < s.per {
				count[l]++
				keep = append(keep, i)
			}
		}
		for l, c := range count {
			if c < s.per {
				return fmt.Errorf("%s: class %d has only %d examples, %d wanted", s.prefix, l, c, s.per)
			}
		}
		sz := raw.H * raw.W
		sub := &data.Raw{N: len(keep), C: 1, H: raw.H, W: raw.W}
		for _, i := range keep {
			sub.Pix = append(sub.Pix, raw.Pix[i*sz:(i+1)*sz]...)
			sub.Labels = append(sub.Labels, raw.Labels[i])
		}
		var bi, bl bytes.Buffer
		if err := data.WriteIDX(&bi, &bl, sub); err != nil {
			return err
		}
		for name, b := range map[string][]byte{imgName: bi.Bytes(), labName: bl.Bytes()} {
			var z bytes.Buffer
			zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
			if err != nil {
				return err
			}
			if _, err := zw.Write(b); err != nil {
				return err
			}
			if err := zw.Close(); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(out, name), z.Bytes(), 0o644); err != nil {
				return err
			}
		}
		fmt.Printf("%s: %d examples (%d per class)\n", s.prefix, len(keep), s.per)
	}
	return nil
}
