//go:build !amd64

package onnx

// flushDenormals is a no-op where no FTZ/DAZ control is wired up; models
// still run correctly, only possibly slower.
func flushDenormals() uint32 { return 0 }

func restoreFPState(uint32) {}
