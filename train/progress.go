package train

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress prints training progress: rewritten in place with \r on a
// terminal, else one line per tenth of an epoch.
type progress struct {
	w         io.Writer
	inPlace   bool
	last      time.Time
	lastTenth int
	width     int
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer, mode ProgressMode) (*progress, error) {
	if w == nil {
		return nil, nil
	}
	mode, err := ParseProgressMode(string(mode))
	if err != nil {
		return nil, err
	}
	p := &progress{w: w}
	switch mode {
	case ProgressAuto:
		p.inPlace = isTerminal(w)
	case ProgressBar:
		p.inPlace = true
	}
	return p, nil
}

func fmtDur(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func (p *progress) startEpoch() { p.lastTenth = 0; p.last = time.Time{} }

// step reports step done (1-based) of steps in epoch (1-based) of epochs.
func (p *progress) step(epoch, epochs, done, steps int, loss, acc, ips float64, elapsed time.Duration) {
	if p == nil {
		return
	}
	if p.inPlace {
		if done < steps && time.Since(p.last) < 200*time.Millisecond {
			return
		}
	} else {
		tenth := 10 * done / steps
		if tenth <= p.lastTenth || done == steps {
			return
		}
		p.lastTenth = tenth
	}
	p.last = time.Now()
	eta := time.Duration(float64(elapsed) / float64(done) * float64(steps-done))
	bar := ""
	if p.inPlace {
		const n = 20
		f := n * done / steps
		bar = "[" + strings.Repeat("=", f) + strings.Repeat(" ", n-f) + "] "
	}
	line := fmt.Sprintf("epoch %d/%d %s%d/%d loss %.4f acc %.2f%% %.0f img/s ETA %s",
		epoch, epochs, bar, done, steps, loss, 100*acc, ips, fmtDur(eta))
	p.print(line, !p.inPlace)
}

// print writes a line; with newline false (in place) it is rewritten by the next one.
func (p *progress) print(line string, newline bool) {
	if p == nil {
		return
	}
	if p.inPlace {
		pad := ""
		if len(line) < p.width {
			pad = strings.Repeat(" ", p.width-len(line))
		}
		fmt.Fprintf(p.w, "\r%s%s", line, pad)
		p.width = len(line)
		if newline {
			fmt.Fprintln(p.w)
			p.width = 0
		}
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *progress) epochLine(s EpochStats, epochs int) {
	if p == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d/%d train loss %.4f acc %.2f%%", s.Epoch, epochs, s.TrainLoss, 100*s.TrainAcc)
	if s.Penalty != 0 {
		fmt.Fprintf(&b, " (+penalty %.4g)", s.Penalty)
	}
	if s.Evaluated {
		fmt.Fprintf(&b, " | test loss %.4f acc %.2f%%", s.TestLoss, 100*s.TestAcc)
	}
	fmt.Fprintf(&b, " | lr %.3g | %.0f img/s | %.1fs", s.LR, s.ImagesPerSec, s.Seconds)
	if s.Gamma.Count > 0 {
		fmt.Fprintf(&b, " | gamma<1e-2 %.1f%%", 100*s.Gamma.ShareBelow1e2)
	}
	p.print(b.String(), true)
}
