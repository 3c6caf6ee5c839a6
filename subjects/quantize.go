package subjects

import "math"

// Templates are held quantised: int8 values with one scale per template
// (the largest magnitude over 127), 516 bytes for a 512-value template
// instead of 2,048. A similarity from the codes differs from the float
// one by about 1e-3 (TestQuantisedSearchFindsTheExactTopOne measures it);
// every similarity a caller sees is recomputed exactly from the stored
// templates (Service.rerank).

// quantize writes e's codes into dst and returns their scale.
func quantize(e []float32, dst []int8) float32 {
	var peak float32
	for _, v := range e {
		peak = max(peak, float32(math.Abs(float64(v))))
	}
	if peak == 0 {
		clear(dst)
		return 0
	}
	scale := peak / 127
	for i, v := range e {
		dst[i] = int8(math.Round(float64(v / scale)))
	}
	return scale
}

// dotInt8Go is the portable inner product, unrolled by four.
func dotInt8Go(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}
