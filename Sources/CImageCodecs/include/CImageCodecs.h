// CImageCodecs: libjpeg and libpng behind a setjmp/longjmp boundary.
//
// Both libraries report fatal errors by longjmp-ing out of the failing call, which Swift
// cannot do safely, so every entry point here catches that jump and returns a status code
// with the library's message copied into `err`. All pixel buffers are allocated with
// malloc and must be released with icodec_free.
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Length of the error buffers the functions below write into.
#define ICODEC_ERROR_LENGTH 256

/// Decodes a JPEG held in memory to interleaved 8-bit RGB, whatever its colour space
/// (greyscale, YCbCr, RGB, CMYK or YCCK, including Adobe's inverted CMYK).
/// Returns 0 on success; on failure returns -1 and leaves a message in err.
int icodec_decode_jpeg(const uint8_t *data, size_t size,
                       uint8_t **rgb, int *width, int *height,
                       char err[ICODEC_ERROR_LENGTH]);

/// Decodes a PNG held in memory to interleaved 8-bit RGB: palettes are expanded, 16-bit
/// samples reduced, grey replicated to three channels, and alpha dropped (as PIL's
/// convert("RGB") does). Returns 0 on success, -1 with a message in err on failure.
int icodec_decode_png(const uint8_t *data, size_t size,
                      uint8_t **rgb, int *width, int *height,
                      char err[ICODEC_ERROR_LENGTH]);

/// Encodes interleaved 8-bit pixels with `channels` samples each (1 grey, 2 grey+alpha,
/// 3 RGB, 4 RGBA) as a PNG in memory. With palette_count > 0 (and channels 1) the samples
/// are indices into `palette` (palette_count RGB triples) and a palette PNG is written.
/// Returns 0 on success, -1 with a message in err on failure.
int icodec_encode_png(const uint8_t *pixels, int width, int height, int channels,
                      const uint8_t *palette, int palette_count,
                      uint8_t **png, size_t *png_size,
                      char err[ICODEC_ERROR_LENGTH]);

/// Encodes interleaved 8-bit pixels as a baseline JPEG in memory. `channels` is 1 (grey),
/// 3 (RGB, stored as YCbCr) or 4 (CMYK, stored with an Adobe marker and inverted samples,
/// as Photoshop writes it). Used for figures and to build test inputs in every colour
/// space the decoder must handle. Returns 0 on success, -1 with a message on failure.
int icodec_encode_jpeg(const uint8_t *pixels, int width, int height, int channels,
                       int quality, uint8_t **jpeg, size_t *jpeg_size,
                       char err[ICODEC_ERROR_LENGTH]);

/// Releases a buffer returned by any function above.
void icodec_free(void *buffer);

#ifdef __cplusplus
}
#endif

#endif
