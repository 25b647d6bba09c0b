// JPEG decoding and encoding through libjpeg(-turbo), with longjmp-based error recovery.
#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

// Error manager: libjpeg calls error_exit on fatal errors and must not return, so we
// format the message and jump back to the entry point that set `escape`.
typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf escape;
    char *message;
} icodec_jpeg_error;

static void jpeg_fail(j_common_ptr cinfo) {
    icodec_jpeg_error *e = (icodec_jpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(e->message, ICODEC_ERROR_LENGTH, "libjpeg: %s", text);
    longjmp(e->escape, 1);
}

// libjpeg only warns about truncated or corrupt entropy-coded data and then fills the
// rest of the image with grey; a dataset must not silently contain such images, so every
// warning except harmless padding between markers is promoted to an error.
static void jpeg_warn(j_common_ptr cinfo, int level) {
    if (level >= 0) return;  // trace messages
    if (cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
    jpeg_fail(cinfo);
}

static void set_message(char *err, const char *text) {
    snprintf(err, ICODEC_ERROR_LENGTH, "%s", text);
}

int icodec_decode_jpeg(const uint8_t *data, size_t size,
                       uint8_t **rgb, int *width, int *height,
                       char err[ICODEC_ERROR_LENGTH]) {
    struct jpeg_decompress_struct cinfo;
    icodec_jpeg_error jerr;
    // Written after setjmp and read after longjmp, hence volatile.
    uint8_t *volatile output = NULL;
    uint8_t *volatile row = NULL;

    *rgb = NULL;
    err[0] = 0;
    if (size == 0) { set_message(err, "empty JPEG data"); return -1; }

    cinfo.err = jpeg_std_error(&jerr.base);
    jerr.base.error_exit = jpeg_fail;
    jerr.base.emit_message = jpeg_warn;
    jerr.message = err;
    if (setjmp(jerr.escape)) {
        jpeg_destroy_decompress(&cinfo);
        free(output);
        free(row);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 14, 0xFFFF);  // Adobe marker: CMYK inversion
    jpeg_read_header(&cinfo, TRUE);

    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    int grey = cinfo.jpeg_color_space == JCS_GRAYSCALE;
    if (cmyk) cinfo.out_color_space = JCS_CMYK;
    else if (grey) cinfo.out_color_space = JCS_GRAYSCALE;
    else cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);

    size_t w = cinfo.output_width, h = cinfo.output_height;
    int comps = cinfo.output_components;
    if (w == 0 || h == 0 || w * h > ((size_t)1 << 28)) {
        set_message(err, "JPEG dimensions out of range");
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    output = malloc(w * h * 3);
    row = malloc(w * (size_t)comps);
    if (!output || !row) {
        set_message(err, "out of memory decoding JPEG");
        jpeg_destroy_decompress(&cinfo);
        free(output); free(row);
        return -1;
    }
    // Photoshop writes CMYK inverted (0 = full ink) and says so in its Adobe marker.
    int inverted = cmyk && cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rows[1] = { row };
        size_t y = cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, rows, 1);
        uint8_t *dst = output + y * w * 3;
        for (size_t x = 0; x < w; x++) {
            if (grey) {
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
            } else if (cmyk) {
                unsigned c = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                // Naive CMYK→RGB (as PIL): channel = (1 − ink)(1 − black).
                dst[3 * x] = (uint8_t)((c * k + 127) / 255);
                dst[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
                dst[3 * x + 2] = (uint8_t)((yy * k + 127) / 255);
            } else {
                memcpy(dst + 3 * x, row + 3 * x, 3);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *rgb = output;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

int icodec_encode_jpeg(const uint8_t *pixels, int width, int height, int channels,
                       int quality, uint8_t **jpeg, size_t *jpeg_size,
                       char err[ICODEC_ERROR_LENGTH]) {
    struct jpeg_compress_struct cinfo;
    icodec_jpeg_error jerr;
    unsigned char *volatile buffer = NULL;
    unsigned long buffer_size = 0;
    uint8_t *volatile row = NULL;

    *jpeg = NULL;
    *jpeg_size = 0;
    err[0] = 0;
    if (width <= 0 || height <= 0 || !(channels == 1 || channels == 3 || channels == 4)) {
        set_message(err, "JPEG encoder: bad dimensions or channel count");
        return -1;
    }
    cinfo.err = jpeg_std_error(&jerr.base);
    jerr.base.error_exit = jpeg_fail;
    jerr.message = err;
    if (setjmp(jerr.escape)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        free(row);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&buffer, &buffer_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    row = malloc((size_t)width * (size_t)channels);
    if (!row) ERREXIT(&cinfo, JERR_OUT_OF_MEMORY);
    while (cinfo.next_scanline < cinfo.image_height) {
        const uint8_t *src = pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)channels;
        for (size_t i = 0; i < (size_t)width * (size_t)channels; i++)
            row[i] = channels == 4 ? (uint8_t)(255 - src[i]) : src[i];  // Adobe inversion
        JSAMPROW rows[1] = { row };
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(row);
    *jpeg = buffer;
    *jpeg_size = buffer_size;
    return 0;
}

void icodec_free(void *buffer) { free(buffer); }
