package presence

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// ModelRole is what a model does in the pipeline. The pipeline asks for
// roles, never for a model family, so a manifest can swap any of them.
type ModelRole string

// Roles the pipeline knows.
const (
	RoleDetector  ModelRole = "detector"
	RoleLandmarks ModelRole = "landmarks68"
	RoleLiveness  ModelRole = "liveness"
	RoleEmbedding ModelRole = "embedding"
	RoleEyeState  ModelRole = "eye_state"
)

// TensorSpec names a model input or output and its fixed shape.
type TensorSpec struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
}

// Size is the number of values the tensor holds.
func (t TensorSpec) Size() int {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return int(n)
}

// Preprocess says how pixels become the model's input: plane order
// ("rgb", "bgr", "gray"), value = (pixel - Mean) * Scale, and for crop-based
// models the crop size relative to the face box.
type Preprocess struct {
	Channels  string  `json:"channels"`
	Mean      float32 `json:"mean"`
	Scale     float32 `json:"scale"`
	CropScale float64 `json:"crop_scale,omitempty"`
}

// ModelSpec describes one model file: identity for audit (name, version,
// sha256, licence, source) and the contract the pipeline relies on.
type ModelSpec struct {
	Name       string       `json:"name"`
	Role       ModelRole    `json:"role"`
	File       string       `json:"file"`
	SHA256     string       `json:"sha256"`
	Version    string       `json:"version"`
	License    string       `json:"license"`
	Source     string       `json:"source"`
	Inputs     []TensorSpec `json:"inputs"`
	Outputs    []TensorSpec `json:"outputs"`
	Preprocess Preprocess   `json:"preprocess"`
	// RealIndex is the softmax class meaning "live" for liveness models,
	// the class meaning "open" for eye-state models.
	RealIndex int `json:"real_index,omitempty"`
	// Weight of a liveness model when several are fused (default 1).
	Weight float64 `json:"weight,omitempty"`
	// Notes for people: caveats, provenance.
	Notes string `json:"notes,omitempty"`
}

// Package is a registry package that carries runtime or model files, with
// the SHA-256 of its tarball and of each extracted file; or, when Bundled,
// files shipped inside the presence binary (models no registry carries).
type Package struct {
	// Name is what `npm pack` is given, e.g. "onnxruntime-node@1.30.0".
	Name   string `json:"name"`
	SHA256 string `json:"sha256,omitempty"`
	// Bundled packages come with the binary; a file's Path is its path
	// in the bundle, and there is no tarball to hash.
	Bundled bool `json:"bundled,omitempty"`
	// Files maps a path inside the tarball to the cache file name.
	Files []PackageFile `json:"files"`
}

// PackageFile is one file taken out of a Package.
type PackageFile struct {
	Path   string `json:"path"`
	As     string `json:"as"`
	SHA256 string `json:"sha256"`
}

// Runtime identifies the ONNX Runtime shared library.
type Runtime struct {
	Version string `json:"version"`
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	License string `json:"license"`
	Source  string `json:"source"`
}

// Manifest lists the runtime and every model the engine loads.
type Manifest struct {
	Runtime  Runtime     `json:"runtime"`
	Packages []Package   `json:"packages"`
	Models   []ModelSpec `json:"models"`
}

//go:embed models.json
var defaultManifest []byte

// DefaultManifest returns the built-in manifest: ONNX Runtime 1.30.0 and the
// default face models, both from registry packages.
func DefaultManifest() *Manifest {
	m, err := ParseManifest(defaultManifest)
	if err != nil {
		panic("built-in models.json is invalid: " + err.Error()) // caught by every test run
	}
	return m
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParseManifest decodes and validates a manifest; an operator's manifest
// is outside input, so every field the pipeline relies on is checked.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks that the manifest is complete and consistent.
func (m *Manifest) Validate() error {
	if m.Runtime.File == "" || !sha256Hex.MatchString(m.Runtime.SHA256) {
		return fmt.Errorf("manifest: runtime needs a file and a lowercase hex sha256")
	}
	for _, p := range m.Packages {
		if p.Name == "" || (!p.Bundled && !sha256Hex.MatchString(p.SHA256)) {
			return fmt.Errorf("manifest: package %q needs a name and a sha256", p.Name)
		}
		for _, f := range p.Files {
			if f.Path == "" || !safeFileName(f.As) || !sha256Hex.MatchString(f.SHA256) {
				return fmt.Errorf("manifest: package %q: file %q needs a path, a plain file name and a sha256", p.Name, f.Path)
			}
		}
	}
	seen := map[string]bool{}
	roles := map[ModelRole]int{}
	for i, s := range m.Models {
		where := fmt.Sprintf("manifest: model %d (%q)", i, s.Name)
		switch {
		case s.Name == "" || seen[s.Name]:
			return fmt.Errorf("%s: missing or duplicate name", where)
		case !safeFileName(s.File):
			return fmt.Errorf("%s: file must be a plain file name", where)
		case !sha256Hex.MatchString(s.SHA256):
			return fmt.Errorf("%s: sha256 must be 64 lowercase hex digits", where)
		case len(s.Inputs) != 1 || len(s.Outputs) == 0:
			return fmt.Errorf("%s: needs exactly one input and at least one output", where)
		}
		for _, t := range append(append([]TensorSpec{}, s.Inputs...), s.Outputs...) {
			if t.Name == "" || len(t.Shape) == 0 {
				return fmt.Errorf("%s: tensor needs a name and a shape", where)
			}
			for _, d := range t.Shape {
				if d <= 0 || d > 1<<20 {
					return fmt.Errorf("%s: tensor %q has a bad dimension %d", where, t.Name, d)
				}
			}
		}
		if shape := s.Inputs[0].Shape; len(shape) != 4 || shape[0] != 1 {
			return fmt.Errorf("%s: input must be 1xCxHxW", where)
		}
		switch s.Preprocess.Channels {
		case "rgb", "bgr":
			if s.Inputs[0].Shape[1] != 3 {
				return fmt.Errorf("%s: %s input needs 3 channels", where, s.Preprocess.Channels)
			}
		case "gray":
			if s.Inputs[0].Shape[1] != 1 {
				return fmt.Errorf("%s: gray input needs 1 channel", where)
			}
		default:
			return fmt.Errorf("%s: preprocess.channels must be rgb, bgr or gray", where)
		}
		if s.Preprocess.Scale == 0 {
			return fmt.Errorf("%s: preprocess.scale must not be 0", where)
		}
		switch s.Role {
		case RoleDetector, RoleLandmarks, RoleEmbedding, RoleEyeState:
		case RoleLiveness:
			if s.Preprocess.CropScale <= 0 {
				return fmt.Errorf("%s: liveness models need preprocess.crop_scale", where)
			}
			if s.Weight < 0 {
				return fmt.Errorf("%s: weight must not be negative", where)
			}
		default:
			return fmt.Errorf("%s: unknown role %q", where, s.Role)
		}
		if s.RealIndex < 0 || s.RealIndex >= s.Outputs[0].Size() {
			return fmt.Errorf("%s: real_index out of range", where)
		}
		seen[s.Name] = true
		roles[s.Role]++
	}
	for _, r := range []ModelRole{RoleDetector, RoleLandmarks, RoleLiveness, RoleEmbedding} {
		if roles[r] == 0 {
			return fmt.Errorf("manifest: no model with role %q", r)
		}
	}
	for _, r := range []ModelRole{RoleDetector, RoleLandmarks, RoleEmbedding, RoleEyeState} {
		if roles[r] > 1 {
			return fmt.Errorf("manifest: more than one model with role %q", r)
		}
	}
	return nil
}

// ByRole returns the models with role r, in manifest order.
func (m *Manifest) ByRole(r ModelRole) []ModelSpec {
	var out []ModelSpec
	for _, s := range m.Models {
		if s.Role == r {
			out = append(out, s)
		}
	}
	return out
}

func safeFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// ModelVersion is what a verdict records about each model that took part.
type ModelVersion struct {
	Name    string    `json:"name"`
	Role    ModelRole `json:"role"`
	Version string    `json:"version"`
	SHA256  string    `json:"sha256"`
}

// ID names the model set the manifest describes: a digest of its
// runtime and of every model's identity and tensors (not of where the
// files came from), "ms_" and 16 hex digits. Two manifests with the same
// ID judge frames the same way.
func (m *Manifest) ID() string {
	raw, _ := json.Marshal(struct {
		Runtime Runtime     `json:"runtime"`
		Models  []ModelSpec `json:"models"`
	}{m.Runtime, m.Models})
	sum := sha256.Sum256(raw)
	return "ms_" + hex.EncodeToString(sum[:8])
}

// Versions lists the identity of every model in the manifest.
func (m *Manifest) Versions() []ModelVersion {
	out := make([]ModelVersion, 0, len(m.Models))
	for _, s := range m.Models {
		out = append(out, ModelVersion{Name: s.Name, Role: s.Role, Version: s.Version, SHA256: s.SHA256})
	}
	return out
}
