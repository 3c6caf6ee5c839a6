package eval

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// folder writes files (name -> content) into a temp dir.
func folder(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadLabels(t *testing.T) {
	dir := folder(t, map[string]string{
		"labels.csv": "path,label,attack_type,subject\n" +
			"live/a.jpg,live,none,s1\n" +
			"\n" +
			"spoof/b.jpg,spoof,print,s1\n" +
			"spoof/c.jpg,SPOOF,,s2\n",
		"live/a.jpg": "x", "spoof/b.jpg": "x", "spoof/c.jpg": "x",
	})
	samples, extras, err := ReadLabels(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 3 || len(extras) != 1 || extras[0] != "subject" {
		t.Fatalf("samples %+v extras %v", samples, extras)
	}
	if !samples[0].Live || samples[1].AttackType != "print" || samples[2].AttackType != "unspecified" || samples[2].Line != 5 {
		t.Errorf("parsed %+v", samples)
	}
	if samples[1].Extra["subject"] != "s1" || samples[0].Path != "live/a.jpg" || samples[0].File != filepath.Join(dir, "live/a.jpg") {
		t.Errorf("paths or extras %+v", samples[1])
	}
}

func TestReadLabelsErrorsNameTheLine(t *testing.T) {
	cases := map[string]struct {
		csv  string
		line int
		want string
	}{
		"unknown label":   {"path,label,attack_type\na.jpg,live,none\na.jpg,maybe,none\n", 3, `unknown label "maybe"`},
		"missing file":    {"path,label,attack_type\na.jpg,live,none\nnothere.jpg,spoof,print\n", 3, "nothere.jpg: no such file"},
		"field count":     {"path,label,attack_type\na.jpg,live\n", 2, "2 fields"},
		"bad quoting":     {"path,label,attack_type\n\"a.jpg,live,none\na.jpg,live,none\n", 2, ""},
		"missing columns": {"file,kind\na.jpg,live\n", 1, "needs the columns path and label"},
		"empty path":      {"path,label,attack_type\n,live,none\n", 2, "empty path"},
		"directory":       {"path,label,attack_type\nsub,live,none\n", 2, "is a directory"},
		"empty file":      {"", 0, "empty file"},
		"header only":     {"path,label,attack_type\n", 0, "no samples"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := folder(t, map[string]string{"labels.csv": c.csv, "a.jpg": "x", "sub/x": "x"})
			_, _, err := ReadLabels(dir)
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a LineError", err)
			}
			if le.Line != c.line || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %q (line %d), want line %d containing %q", err, le.Line, c.line, c.want)
			}
			if c.line > 0 && !strings.Contains(err.Error(), "labels.csv line") {
				t.Fatalf("message does not name the file and line: %q", err)
			}
		})
	}
	if _, _, err := ReadLabels(t.TempDir()); err == nil || !strings.Contains(err.Error(), "labels.csv") {
		t.Fatalf("missing labels.csv: %v", err)
	}
}

func TestReadPairs(t *testing.T) {
	dir := folder(t, map[string]string{
		"pairs.csv":  "path_a,path_b,same\na.jpg,b.jpg,1\na.jpg,b.jpg,no\n",
		"master.csv": "file_x,file_y,Decision\na.jpg,b.jpg,Yes\n",
		"bad.csv":    "path_a,path_b,same\na.jpg,b.jpg,1\na.jpg,b.jpg,perhaps\n",
		"a.jpg":      "x", "b.jpg": "x",
	})
	pairs, err := ReadPairs(dir, filepath.Join(dir, "pairs.csv"))
	if err != nil || len(pairs) != 2 || !pairs[0].Same || pairs[1].Same {
		t.Fatalf("%+v %v", pairs, err)
	}
	pairs, err = ReadPairs(dir, filepath.Join(dir, "master.csv"))
	if err != nil || len(pairs) != 1 || !pairs[0].Same {
		t.Fatalf("master.csv: %+v %v", pairs, err)
	}
	_, err = ReadPairs(dir, filepath.Join(dir, "bad.csv"))
	if err == nil || !strings.Contains(err.Error(), "bad.csv line 3") {
		t.Fatalf("bad same value: %v", err)
	}
}

func FuzzReadLabels(f *testing.F) {
	f.Add("path,label,attack_type\na.jpg,live,none\n")
	f.Add("path,label\n\"a.jpg\",spoof\n")
	f.Add("\ufeffPATH,Label,attack_type,subject\na.jpg,live,,x\n")
	f.Fuzz(func(t *testing.T, content string) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "a.jpg"), []byte("x"), 0o644)
		os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(content), 0o644)
		samples, _, err := ReadLabels(dir)
		if err == nil && len(samples) == 0 {
			t.Fatal("no error and no samples")
		}
		for _, s := range samples {
			if s.File == "" || (!s.Live && s.AttackType == "") {
				t.Fatalf("incomplete sample %+v", s)
			}
		}
	})
}

func FuzzReadPairs(f *testing.F) {
	f.Add("path_a,path_b,same\na.jpg,a.jpg,1\n")
	f.Add("file_x,file_y,Decision\na.jpg,a.jpg,No\n")
	f.Fuzz(func(t *testing.T, content string) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "a.jpg"), []byte("x"), 0o644)
		file := filepath.Join(dir, "pairs.csv")
		os.WriteFile(file, []byte(content), 0o644)
		pairs, err := ReadPairs(dir, file)
		if err == nil && len(pairs) == 0 {
			t.Fatal("no error and no pairs")
		}
	})
}

func FuzzReadColumn(f *testing.F) {
	f.Add("path,identity\na/1.png,a\nb/2.png,b\n", "identity")
	f.Add("path,label,pos_light_code\nx.jpg,live,05\n", "POS_LIGHT_CODE")
	f.Add("path\n\"x\ny\"\n", "path")
	f.Fuzz(func(t *testing.T, content, col string) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(content), 0o644)
		values, err := ReadColumn(dir, col)
		if err != nil && values != nil {
			t.Fatal("values beside an error")
		}
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error of an unexpected kind: %v", err)
			}
		}
	})
}

func TestReadColumn(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "labels.csv"), []byte("path,identity\na/1.png,alice\nb/2.png,bob\n"), 0o644)
	got, err := ReadColumn(dir, "Identity")
	if err != nil || got["a/1.png"] != "alice" || got["b/2.png"] != "bob" || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ReadColumn(dir, "light"); err == nil || !strings.Contains(err.Error(), "no path or no light column") {
		t.Fatalf("missing column: %v", err)
	}
	if _, err := ReadColumn(t.TempDir(), "identity"); err == nil {
		t.Fatal("missing labels.csv accepted")
	}
}
