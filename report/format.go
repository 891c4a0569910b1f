package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HumanBytes formats a byte count with binary prefixes: "512 B", "1.50 KiB",
// "12.3 MiB" (three significant digits from KiB up).
func HumanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	v := float64(n)
	u := -1
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	return sig3(v) + " " + units[u]
}

// HumanCount formats a count with SI suffixes: "950", "12.3k", "1.25M",
// "4.10G".
func HumanCount(n int64) string {
	v := float64(n)
	switch {
	case math.Abs(v) < 1e3:
		return strconv.FormatInt(n, 10)
	case math.Abs(v) < 1e6:
		return sig3(v/1e3) + "k"
	case math.Abs(v) < 1e9:
		return sig3(v/1e6) + "M"
	default:
		return sig3(v/1e9) + "G"
	}
}

// sig3 prints v (>= 1) with three significant digits.
func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// Times formats a ratio as "12.3x" (two decimals below 10).
func Times(r float64) string {
	if r >= 10 {
		return fmt.Sprintf("%.1fx", r)
	}
	return fmt.Sprintf("%.2fx", r)
}

// Percent formats an accuracy in percent with two decimals: "91.25%".
func Percent(a float64) string { return fmt.Sprintf("%.2f%%", a) }

// rate formats images/s, "-" when not measured.
func rate(v float64) string {
	if v <= 0 {
		return "-"
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// table renders a Markdown pipe table whose columns are padded to equal
// width, so it reads as a table in a terminal too. right marks the columns
// aligned right (numbers). Pipes inside cells are escaped.
type table struct {
	head  []string
	right []bool
	rows  [][]string
}

func newTable(head ...string) *table {
	t := &table{head: head, right: make([]bool, len(head))}
	for i, h := range head {
		// A leading '>' asks for right alignment; it is not printed.
		if strings.HasPrefix(h, ">") {
			t.head[i] = h[1:]
			t.right[i] = true
		}
	}
	return t
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func cellText(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func (t *table) String() string {
	w := make([]int, len(t.head))
	for i, h := range t.head {
		w[i] = max(3, utf8.RuneCountInString(cellText(h)))
	}
	for _, r := range t.rows {
		for i := range w {
			if i < len(r) {
				w[i] = max(w[i], utf8.RuneCountInString(cellText(r[i])))
			}
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i := range w {
			c := ""
			if i < len(cells) {
				c = cellText(cells[i])
			}
			pad := strings.Repeat(" ", w[i]-utf8.RuneCountInString(c))
			if t.right[i] {
				b.WriteString(" " + pad + c + " |")
			} else {
				b.WriteString(" " + c + pad + " |")
			}
		}
		b.WriteString("\n")
	}
	line(t.head)
	b.WriteString("|")
	for i := range w {
		if t.right[i] {
			b.WriteString(" " + strings.Repeat("-", w[i]-1) + ": |")
		} else {
			b.WriteString(" " + strings.Repeat("-", w[i]) + " |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		line(r)
	}
	return b.String()
}
