package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Sample is one labelled image of a PAD set: labels.csv gives path, label
// (live or spoof) and attack type; any other column is kept for
// breakdowns (subject, session, device...).
type Sample struct {
	Line int `json:"line"`
	// Path is as written in the CSV; File is where it was found.
	Path       string            `json:"path"`
	File       string            `json:"-"`
	Live       bool              `json:"live"`
	AttackType string            `json:"attack_type,omitempty"`
	Extra      map[string]string `json:"extra,omitempty"`
}

// Pair is one line of a verification set.
type Pair struct {
	Line int `json:"line"`
	// A and B are as written in the CSV; FileA and FileB where they were
	// found.
	A            string `json:"a"`
	B            string `json:"b"`
	FileA, FileB string `json:"-"`
	Same         bool   `json:"same"`
}

// LineError is a problem in a CSV file, naming the file and line.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Msg)
}

// csvRows reads a CSV with a header; it returns the header (lower-cased,
// trimmed) and the records with their line numbers.
func csvRows(name string, r io.Reader) ([]string, [][]string, []int, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1 // counted below, with a message naming both counts
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, nil, &LineError{File: name, Msg: "empty file: a header line is needed"}
	}
	if err != nil {
		return nil, nil, nil, csvError(name, err)
	}
	for i, h := range header {
		header[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	}
	var rows [][]string
	var lines []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		rows = append(rows, rec)
		lines = append(lines, line)
	}
	return header, rows, lines, nil
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		// A broken quote is reported where its record starts.
		line := pe.StartLine
		if line == 0 {
			line = pe.Line
		}
		return &LineError{File: name, Line: line, Msg: pe.Err.Error()}
	}
	return &LineError{File: name, Msg: err.Error()}
}

func column(header []string, names ...string) int {
	for i, h := range header {
		for _, n := range names {
			if h == n {
				return i
			}
		}
	}
	return -1
}

// checkPath resolves a path of the CSV against dir and checks the file.
func checkPath(dir, name string, line int, p string) (string, error) {
	if strings.TrimSpace(p) == "" {
		return "", &LineError{File: name, Line: line, Msg: "empty path"}
	}
	full := p
	if !filepath.IsAbs(p) {
		full = filepath.Join(dir, p)
	}
	st, err := os.Stat(full)
	if err != nil {
		return "", &LineError{File: name, Line: line, Msg: fmt.Sprintf("%s: no such file", p)}
	}
	if st.IsDir() {
		return "", &LineError{File: name, Line: line, Msg: fmt.Sprintf("%s is a directory", p)}
	}
	return full, nil
}

// ReadLabels reads dir/labels.csv (path,label,attack_type and any extra
// columns). Every problem names its line; files are checked to exist
// before anything is analysed.
func ReadLabels(dir string) ([]Sample, []string, error) {
	const name = "labels.csv"
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, nil, &LineError{File: filepath.Join(dir, name), Msg: "cannot open: " + errors.Unwrap(err).Error()}
	}
	defer f.Close()
	header, rows, lines, err := csvRows(name, f)
	if err != nil {
		return nil, nil, err
	}
	pathCol, labelCol, typeCol := column(header, "path"), column(header, "label"), column(header, "attack_type")
	if pathCol < 0 || labelCol < 0 {
		return nil, nil, &LineError{File: name, Line: 1, Msg: fmt.Sprintf("header %q needs the columns path and label (and attack_type)", strings.Join(header, ","))}
	}
	var extras []string
	for i, h := range header {
		if i != pathCol && i != labelCol && i != typeCol && h != "" {
			extras = append(extras, h)
		}
	}
	var out []Sample
	for k, rec := range rows {
		line := lines[k]
		if len(rec) != len(header) {
			return nil, nil, &LineError{File: name, Line: line, Msg: fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))}
		}
		full, err := checkPath(dir, name, line, rec[pathCol])
		if err != nil {
			return nil, nil, err
		}
		s := Sample{Line: line, Path: rec[pathCol], File: full}
		switch strings.ToLower(strings.TrimSpace(rec[labelCol])) {
		case "live", "bonafide", "bona_fide", "real":
			s.Live = true
		case "spoof", "attack", "fake":
			s.AttackType = "unspecified"
			if typeCol >= 0 && strings.TrimSpace(rec[typeCol]) != "" && strings.ToLower(rec[typeCol]) != "none" {
				s.AttackType = strings.TrimSpace(rec[typeCol])
			}
		default:
			return nil, nil, &LineError{File: name, Line: line, Msg: fmt.Sprintf("unknown label %q (want live or spoof)", rec[labelCol])}
		}
		if len(extras) > 0 {
			s.Extra = map[string]string{}
			for i, h := range header {
				if i != pathCol && i != labelCol && i != typeCol && h != "" {
					s.Extra[h] = rec[i]
				}
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, nil, &LineError{File: name, Msg: "no samples"}
	}
	return out, extras, nil
}

// ReadPairs reads a verification pair list: columns path_a,path_b,same
// (same: 1/0, yes/no, true/false). deepface's master.csv layout
// (file_x,file_y,Decision) is accepted too.
func ReadPairs(dir, file string) ([]Pair, error) {
	name := filepath.Base(file)
	f, err := os.Open(file)
	if err != nil {
		return nil, &LineError{File: file, Msg: "cannot open: " + errors.Unwrap(err).Error()}
	}
	defer f.Close()
	header, rows, lines, err := csvRows(name, f)
	if err != nil {
		return nil, err
	}
	a, b, same := column(header, "path_a", "file_x"), column(header, "path_b", "file_y"), column(header, "same", "decision")
	if a < 0 || b < 0 || same < 0 {
		return nil, &LineError{File: name, Line: 1, Msg: fmt.Sprintf("header %q needs the columns path_a, path_b and same", strings.Join(header, ","))}
	}
	var out []Pair
	for k, rec := range rows {
		line := lines[k]
		if len(rec) != len(header) {
			return nil, &LineError{File: name, Line: line, Msg: fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))}
		}
		pa, err := checkPath(dir, name, line, rec[a])
		if err != nil {
			return nil, err
		}
		pb, err := checkPath(dir, name, line, rec[b])
		if err != nil {
			return nil, err
		}
		p := Pair{Line: line, A: rec[a], B: rec[b], FileA: pa, FileB: pb}
		switch strings.ToLower(strings.TrimSpace(rec[same])) {
		case "1", "yes", "true", "same":
			p.Same = true
		case "0", "no", "false", "different":
		default:
			return nil, &LineError{File: name, Line: line, Msg: fmt.Sprintf("same must be 1 or 0 (or yes/no), got %q", rec[same])}
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, &LineError{File: name, Msg: "no pairs"}
	}
	return out, nil
}
