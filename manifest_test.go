package presence_test

import (
	"encoding/json"
	"strings"
	"testing"

	"presence"
)

func TestDefaultManifestIsValid(t *testing.T) {
	m := presence.DefaultManifest()
	for _, r := range []presence.ModelRole{presence.RoleDetector, presence.RoleLandmarks, presence.RoleLiveness, presence.RoleEmbedding, presence.RoleEyeState} {
		if len(m.ByRole(r)) == 0 {
			t.Errorf("no %s model", r)
		}
	}
	// Every model file must come out of a pinned package with the same hash.
	files := map[string]string{}
	for _, p := range m.Packages {
		for _, f := range p.Files {
			files[f.As] = f.SHA256
		}
	}
	for _, s := range m.Models {
		if files[s.File] != s.SHA256 {
			t.Errorf("model %s: file %s is not delivered by a package with the same sha256", s.Name, s.File)
		}
	}
	if files[m.Runtime.File] != m.Runtime.SHA256 {
		t.Error("runtime library is not delivered by a package with the same sha256")
	}
}

func TestManifestRejects(t *testing.T) {
	good, _ := json.Marshal(presence.DefaultManifest())
	mutate := func(f func(m *presence.Manifest)) []byte {
		m := presence.DefaultManifest()
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	cases := map[string][]byte{
		"not json":        []byte("{"),
		"unknown field":   []byte(strings.Replace(string(good), `"runtime":`, `"runtim":`, 1)),
		"path in file":    mutate(func(m *presence.Manifest) { m.Models[0].File = "../etc/passwd" }),
		"short sha":       mutate(func(m *presence.Manifest) { m.Models[1].SHA256 = "abc" }),
		"no detector":     mutate(func(m *presence.Manifest) { m.Models = m.Models[1:] }),
		"bad channels":    mutate(func(m *presence.Manifest) { m.Models[2].Preprocess.Channels = "cmyk" }),
		"zero scale":      mutate(func(m *presence.Manifest) { m.Models[2].Preprocess.Scale = 0 }),
		"no crop scale":   mutate(func(m *presence.Manifest) { m.Models[2].Preprocess.CropScale = 0 }),
		"index too large": mutate(func(m *presence.Manifest) { m.Models[2].RealIndex = 7 }),
		"negative dim":    mutate(func(m *presence.Manifest) { m.Models[3].Inputs[0].Shape[2] = -1 }),
		"two embedders": mutate(func(m *presence.Manifest) {
			for _, e := range m.Models {
				if e.Role == presence.RoleEmbedding {
					e.Name = "other"
					m.Models = append(m.Models, e)
					return
				}
			}
		}),
	}
	for name, data := range cases {
		if _, err := presence.ParseManifest(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := presence.ParseManifest(good); err != nil {
		t.Fatalf("control: %v", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	good, _ := json.Marshal(presence.DefaultManifest())
	f.Add(good)
	f.Add([]byte(`{"runtime":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := presence.ParseManifest(data)
		if err != nil {
			return
		}
		// Anything accepted must be safe to use: plain file names and
		// in-range class indices.
		for _, s := range m.Models {
			if strings.ContainsAny(s.File, "/\\") || s.RealIndex >= s.Outputs[0].Size() {
				t.Fatalf("accepted unsafe model %+v", s)
			}
		}
	})
}

func TestEmbeddingSimilarity(t *testing.T) {
	a := presence.Embedding{3, 4}
	a.Normalize()
	if a[0] != 0.6 || a[1] != 0.8 {
		t.Errorf("normalised %v", a)
	}
	if s := a.Similarity(presence.Embedding{-3, -4}); s > -0.999 {
		t.Errorf("opposite vectors: %v", s)
	}
	if s := a.Similarity(presence.Embedding{1}); s != 0 {
		t.Errorf("length mismatch: %v", s)
	}
	if m := presence.NewMatch(a, a, 0.4); !m.Match || m.Threshold != 0.4 {
		t.Errorf("self match: %+v", m)
	}
}
