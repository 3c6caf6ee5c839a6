// Package turbojpeg decodes JPEG with libjpeg-turbo's TurboJPEG library,
// loaded at run time (dlopen): a binary built here runs where the library
// is missing, and then Open says so and the caller keeps Go's decoder. It
// is the second of Presence's two cgo adapters (engine/onnx is the
// first), and exposes only Go types and errors. Decoding can scale in the
// DCT (1/2, 1/4, 1/8), which costs a fraction of a full decode: the models
// read a few hundred thousand pixels of a 12-megapixel photo.
package turbojpeg

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

typedef void *tjhandle;
typedef tjhandle (*init_fn)(void);
typedef int (*header_fn)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *);
typedef int (*planes_fn)(tjhandle, const unsigned char *, unsigned long, unsigned char **, int, int *, int, int);
typedef int (*destroy_fn)(tjhandle);
typedef char *(*error_fn)(tjhandle);

static void *lib;
static init_fn tj_init;
static header_fn tj_header;
static planes_fn tj_planes;
static destroy_fn tj_destroy;
static error_fn tj_error;

static int tj_open(const char *path) {
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return 1;
	tj_init = (init_fn)dlsym(lib, "tjInitDecompress");
	tj_header = (header_fn)dlsym(lib, "tjDecompressHeader3");
	tj_planes = (planes_fn)dlsym(lib, "tjDecompressToYUVPlanes");
	tj_destroy = (destroy_fn)dlsym(lib, "tjDestroy");
	tj_error = (error_fn)dlsym(lib, "tjGetErrorStr2");
	if (!tj_init || !tj_header || !tj_planes || !tj_destroy || !tj_error) return 2;
	return 0;
}

static tjhandle tj_new(void) { return tj_init(); }
static void tj_free(tjhandle h) { tj_destroy(h); }
static const char *tj_err(tjhandle h) { return tj_error(h); }

static int tj_read_header(tjhandle h, const unsigned char *buf, unsigned long n, int *w, int *ht, int *samp, int *cs) {
	return tj_header(h, buf, n, w, ht, samp, cs);
}

static int tj_decode_planes(tjhandle h, const unsigned char *buf, unsigned long n,
		unsigned char *y, unsigned char *cb, unsigned char *cr, int w, int ys, int cstride, int ht) {
	unsigned char *planes[3] = {y, cb, cr};
	int strides[3] = {ys, cstride, cstride};
	// TJFLAG_STOPONWARNING (8192): a damaged file is an error, not a
	// partly grey picture.
	return tj_planes(h, buf, n, planes, w, strides, ht, 8192);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"unsafe"
)

// Library names tried in order: Debian's libturbojpeg0, then others.
var libraryNames = []string{"libturbojpeg.so.0", "libturbojpeg.so", "libturbojpeg.0.dylib"}

// ErrUnsupported means this JPEG is one the adapter leaves to Go's decoder
// (greyscale, CMYK, an unusual subsampling).
var ErrUnsupported = errors.New("turbojpeg: unsupported JPEG layout")

// Decoder decodes JPEG; it is safe for concurrent use (a TurboJPEG handle
// per call, from a pool).
type Decoder struct {
	name    string
	handles sync.Pool
}

var (
	openOnce sync.Once
	opened   *Decoder
	openErr  error
)

// Open loads the library once per process and returns the decoder, or an
// error that says what is missing.
func Open() (*Decoder, error) {
	openOnce.Do(func() {
		for _, name := range libraryNames {
			cname := C.CString(name)
			rc := C.tj_open(cname)
			C.free(unsafe.Pointer(cname))
			if rc == 0 {
				opened = &Decoder{name: name}
				opened.handles.New = func() any { return C.tj_new() }
				return
			}
			if rc == 2 {
				openErr = fmt.Errorf("turbojpeg: %s lacks the TurboJPEG 2 functions", name)
				return
			}
		}
		openErr = errors.New("turbojpeg: libturbojpeg is not installed (Debian: apt-get install libturbojpeg0); using Go's JPEG decoder")
	})
	return opened, openErr
}

// Name is the library file loaded.
func (d *Decoder) Name() string { return "libjpeg-turbo (" + d.name + ")" }

// TurboJPEG's subsampling codes and Go's equivalents.
var subsampling = map[C.int]image.YCbCrSubsampleRatio{
	0: image.YCbCrSubsampleRatio444, 1: image.YCbCrSubsampleRatio422, 2: image.YCbCrSubsampleRatio420,
	4: image.YCbCrSubsampleRatio440, 5: image.YCbCrSubsampleRatio411,
}

// mcu is each subsampling's chroma block in pixels (TurboJPEG's MCU size
// over 8): width, height.
var mcu = map[C.int][2]int{0: {1, 1}, 1: {2, 1}, 2: {2, 2}, 4: {1, 2}, 5: {4, 1}}

// Header returns a JPEG's stored size.
func (d *Decoder) Header(data []byte) (width, height int, err error) {
	if len(data) == 0 {
		return 0, 0, errors.New("turbojpeg: no data")
	}
	h := d.handles.Get().(C.tjhandle)
	defer d.handles.Put(h)
	var w, ht, samp, cs C.int
	if C.tj_read_header(h, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &w, &ht, &samp, &cs) != 0 {
		return 0, 0, fmt.Errorf("turbojpeg: %s", C.GoString(C.tj_err(h)))
	}
	return int(w), int(ht), nil
}

// Decode decodes data scaled by 1/denom (1, 2, 4 or 8) into YCbCr planes
// as stored (EXIF orientation is the caller's). Errors are plain; a JPEG
// layout it does not handle is ErrUnsupported.
func (d *Decoder) Decode(data []byte, denom int) (*image.YCbCr, error) {
	if denom != 1 && denom != 2 && denom != 4 && denom != 8 {
		return nil, fmt.Errorf("turbojpeg: scale 1/%d not offered", denom)
	}
	if len(data) == 0 {
		return nil, errors.New("turbojpeg: no data")
	}
	h := d.handles.Get().(C.tjhandle)
	defer d.handles.Put(h)
	buf := (*C.uchar)(unsafe.Pointer(&data[0]))
	n := C.ulong(len(data))
	var w, ht, samp, cs C.int
	if C.tj_read_header(h, buf, n, &w, &ht, &samp, &cs) != 0 {
		return nil, fmt.Errorf("turbojpeg: %s", C.GoString(C.tj_err(h)))
	}
	ratio, ok := subsampling[samp]
	// Colour space 1 is YCbCr; RGB-coded or CMYK JPEGs go to Go.
	if !ok || cs != 1 {
		return nil, ErrUnsupported
	}
	sw, sh := (int(w)+denom-1)/denom, (int(ht)+denom-1)/denom
	// TurboJPEG writes whole MCUs: the luma plane padded to the chroma
	// block (2 or 4 pixels), the chroma planes that padded size divided.
	// The planes are allocated at those sizes; the picture is the
	// unpadded rectangle.
	mw, mh := mcu[samp][0], mcu[samp][1]
	pw, ph := (sw+mw-1)/mw*mw, (sh+mh-1)/mh*mh
	cw, ch := pw/mw, ph/mh
	img := &image.YCbCr{
		Y: make([]byte, pw*ph), Cb: make([]byte, cw*ch), Cr: make([]byte, cw*ch),
		YStride: pw, CStride: cw, SubsampleRatio: ratio, Rect: image.Rect(0, 0, sw, sh),
	}
	if C.tj_decode_planes(h, buf, n, (*C.uchar)(unsafe.Pointer(&img.Y[0])), (*C.uchar)(unsafe.Pointer(&img.Cb[0])), (*C.uchar)(unsafe.Pointer(&img.Cr[0])),
		C.int(sw), C.int(pw), C.int(cw), C.int(sh)) != 0 {
		return nil, fmt.Errorf("turbojpeg: %s", C.GoString(C.tj_err(h)))
	}
	return img, nil
}
