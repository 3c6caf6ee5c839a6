package subjects

import "golang.org/x/sys/cpu"

//go:noescape
func dotInt8AVX2(a, b *int8, n int) int32

var haveAVX2 = cpu.X86.HasAVX2

// dotInt8 is the inner product of two int8 vectors of one length.
func dotInt8(a, b []int8) int32 {
	if haveAVX2 && len(a) >= 32 && len(a)%32 == 0 && len(b) >= len(a) {
		return dotInt8AVX2(&a[0], &b[0], len(a))
	}
	return dotInt8Go(a, b)
}
