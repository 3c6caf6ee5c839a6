package eval

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// VerifySlice is the verification result on the pairs of one slice: both
// images share the column's value (pairs across values form the slice
// "A|B", values in order).
type VerifySlice struct {
	Column   string `json:"column"`
	Value    string `json:"value"`
	Genuine  int    `json:"genuine"`
	Impostor int    `json:"impostor"`
	// TAR and FAR at the configured threshold.
	TAR Rate `json:"tar"`
	FAR Rate `json:"far"`
	// MaxImpostor is the highest similarity of two different people.
	MaxImpostor Number `json:"max_impostor"`
}

// ReadColumn reads one column of dir/labels.csv by path, for breaking a
// pair list down; any labels.csv with a path column will do.
func ReadColumn(dir, col string) (map[string]string, error) {
	const name = "labels.csv"
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, &LineError{File: filepath.Join(dir, name), Msg: "cannot open: " + errors.Unwrap(err).Error() + " (--by reads its columns)"}
	}
	defer f.Close()
	header, rows, lines, err := csvRows(name, f)
	if err != nil {
		return nil, err
	}
	pathCol, valueCol := column(header, "path"), column(header, strings.ToLower(col))
	if pathCol < 0 || valueCol < 0 {
		return nil, &LineError{File: name, Line: 1, Msg: fmt.Sprintf("header %q has no path or no %s column", strings.Join(header, ","), col)}
	}
	out := map[string]string{}
	for k, rec := range rows {
		if len(rec) != len(header) {
			return nil, &LineError{File: name, Line: lines[k], Msg: fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))}
		}
		out[rec[pathCol]] = rec[valueCol]
	}
	return out, nil
}

// Slice breaks the scored pairs down by a column of the images.
func (r *VerifyReport) Slice(col string, values map[string]string) {
	type acc struct {
		gen, imp, genOK, impOK int
		maxImp                 float64
	}
	groups := map[string]*acc{}
	for _, p := range r.Scores {
		a, b := values[p.A], values[p.B]
		key := a
		if a != b {
			x, y := a, b
			if y < x {
				x, y = y, x
			}
			key = x + "|" + y
		}
		g := groups[key]
		if g == nil {
			g = &acc{maxImp: -1}
			groups[key] = g
		}
		ok := p.Similarity >= r.Configured.Threshold
		if p.Same {
			g.gen++
			if ok {
				g.genOK++
			}
		} else {
			g.imp++
			if ok {
				g.impOK++
			}
			g.maxImp = max(g.maxImp, p.Similarity)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g := groups[k]
		s := VerifySlice{Column: col, Value: k, Genuine: g.gen, Impostor: g.imp, TAR: ratio(g.genOK, g.gen), FAR: ratio(g.impOK, g.imp), MaxImpostor: nan}
		if g.imp > 0 {
			s.MaxImpostor = Number(g.maxImp)
		}
		r.Slices = append(r.Slices, s)
	}
}

func writeSlices(w io.Writer, slices []VerifySlice, threshold float64) {
	if len(slices) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nby slice, at the configured threshold %.3f\ncolumn\tvalue\tsame\tdifferent\tTAR\tFAR\thighest different-people similarity\n", threshold)
	for _, s := range slices {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", s.Column, s.Value, s.Genuine, s.Impostor, pct(s.TAR), pct(s.FAR), f4(s.MaxImpostor))
	}
	tw.Flush()
}
