// Package onnx runs models with ONNX Runtime. It is the only package of
// Presence that uses cgo: everything it exposes is plain Go slices and
// typed errors, so the rest of the code stays pure Go and testable.
package onnx

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"presence"
)

// Runtime is the process-wide ONNX Runtime environment. ORT keeps global
// state, so there is at most one open Runtime per process; main opens it
// once, explicitly.
type Runtime struct {
	mu     sync.Mutex
	closed bool
}

var (
	openMu sync.Mutex
	opened *Runtime
)

// ErrRuntimeOpen is returned by Open when a Runtime is already open in this
// process.
var ErrRuntimeOpen = errors.New("onnx: runtime already open in this process")

// Open loads the ONNX Runtime shared library at libPath and initialises its
// environment.
func Open(libPath string) (*Runtime, error) {
	openMu.Lock()
	defer openMu.Unlock()
	if opened != nil {
		return nil, ErrRuntimeOpen
	}
	if _, err := os.Stat(libPath); err != nil {
		return nil, fmt.Errorf("onnx: runtime library: %w (run `make setup`)", err)
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return nil, fmt.Errorf("onnx: initialise runtime %s: %w", libPath, err)
	}
	opened = &Runtime{}
	return opened, nil
}

// Version is the version string the loaded library reports.
func (r *Runtime) Version() string { return ort.GetVersion() }

// Provider names the execution provider sessions run on. Only the CPU
// provider is built into the registry's library (see MODELS.md), so that is
// what runs; it is reported rather than assumed.
func (r *Runtime) Provider() string { return "CPUExecutionProvider" }

// Close destroys the environment. Models must be closed first. Calling it
// twice is safe.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	openMu.Lock()
	defer openMu.Unlock()
	opened = nil
	return ort.DestroyEnvironment()
}

// Model is one model bound to its own input and output buffers. It runs
// one inference at a time: the engine gives each worker its own sessions,
// which is faster than sharing (no per-call tensor allocation) and keeps
// ORT at one thread per call.
type Model struct {
	mu      sync.Mutex
	session *ort.AdvancedSession
	inputs  []*ort.Tensor[float32]
	outputs []*ort.Tensor[float32]
	closed  bool
}

// NewModel builds a model from its bytes with one intra-op thread
// and thread spinning off: spinning made the pipeline three times slower on
// two cores, and parallelism comes from running several sessions at once.
// Graph optimisation stays at ORT's default (all levels), which measured
// fastest for every default model.
func (r *Runtime) NewModel(model []byte, inputs, outputs []presence.TensorSpec) (*Model, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnx: session options: %w", err)
	}
	defer opts.Destroy()
	for _, step := range []func() error{
		func() error { return opts.SetIntraOpNumThreads(1) },
		func() error { return opts.SetInterOpNumThreads(1) },
		func() error { return opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0") },
		func() error { return opts.AddSessionConfigEntry("session.inter_op.allow_spinning", "0") },
	} {
		if err := step(); err != nil {
			return nil, fmt.Errorf("onnx: session options: %w", err)
		}
	}
	s := &Model{}
	var inNames, outNames []string
	var inVals, outVals []ort.Value
	for _, t := range inputs {
		tensor, err := ort.NewEmptyTensor[float32](ort.NewShape(t.Shape...))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("onnx: input %q: %w", t.Name, err)
		}
		s.inputs = append(s.inputs, tensor)
		inNames = append(inNames, t.Name)
		inVals = append(inVals, tensor)
	}
	for _, t := range outputs {
		tensor, err := ort.NewEmptyTensor[float32](ort.NewShape(t.Shape...))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("onnx: output %q: %w", t.Name, err)
		}
		s.outputs = append(s.outputs, tensor)
		outNames = append(outNames, t.Name)
		outVals = append(outVals, tensor)
	}
	sess, err := ort.NewAdvancedSessionWithONNXData(model, inNames, outNames, inVals, outVals, opts)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("onnx: create session: %w", err)
	}
	s.session = sess
	return s, nil
}

// Input returns the buffer of input i, to be filled before Run.
func (s *Model) Input(i int) []float32 { return s.inputs[i].GetData() }

// Output returns the buffer of output i, valid after Run.
func (s *Model) Output(i int) []float32 { return s.outputs[i].GetData() }

// Run runs the model on the current inputs.
func (s *Model) Run() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("onnx: session closed")
	}
	// The FP mode is per OS thread: pin the goroutine while it is set, and
	// restore it so Go code on this thread keeps IEEE semantics.
	runtime.LockOSThread()
	old := flushDenormals()
	err := s.session.Run()
	restoreFPState(old)
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("onnx: run: %w", err)
	}
	return nil
}

// Close releases the session and its tensors; calling it twice is safe.
func (s *Model) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.session != nil {
		errs = append(errs, s.session.Destroy())
	}
	for _, t := range append(s.inputs, s.outputs...) {
		errs = append(errs, t.Destroy())
	}
	return errors.Join(errs...)
}
