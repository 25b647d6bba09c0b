// PNG decoding and encoding through libpng, with longjmp-based error recovery.
#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

// libpng reports fatal errors through this callback, which must not return: it records
// the message and longjmps to the setjmp in the calling entry point.
static void png_fail(png_structp png, png_const_charp message) {
    char *err = (char *)png_get_error_ptr(png);
    snprintf(err, ICODEC_ERROR_LENGTH, "libpng: %s", message);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp message) {
    (void)png; (void)message;  // benign (e.g. unknown chunks, sRGB profile quirks)
}

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
} png_reader;

static void png_read_memory(png_structp png, png_bytep out, png_size_t count) {
    png_reader *r = (png_reader *)png_get_io_ptr(png);
    if (count > r->size - r->offset) png_error(png, "unexpected end of PNG data (truncated file)");
    memcpy(out, r->data + r->offset, count);
    r->offset += count;
}

int icodec_decode_png(const uint8_t *data, size_t size,
                      uint8_t **rgb, int *width, int *height,
                      char err[ICODEC_ERROR_LENGTH]) {
    *rgb = NULL;
    err[0] = 0;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(err, ICODEC_ERROR_LENGTH, "not a PNG file (bad signature)");
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, err, png_fail, png_warn);
    if (!png) { snprintf(err, ICODEC_ERROR_LENGTH, "libpng: cannot create read struct"); return -1; }
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile output = NULL;
    png_bytep *volatile rows = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(err, ICODEC_ERROR_LENGTH, "libpng: cannot create info struct");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(output);
        free(rows);
        return -1;
    }
    png_reader reader = { data, size, 0 };
    png_set_read_fn(png, &reader, png_read_memory);
    png_read_info(png, info);

    // Normalise every PNG flavour to 8-bit RGB.
    png_set_expand(png);          // palette → RGB, grey < 8 bit → 8 bit, tRNS → alpha
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (w == 0 || h == 0 || (size_t)w * h > ((size_t)1 << 28) || rowbytes != (size_t)w * 3)
        png_error(png, "unsupported PNG layout or dimensions");
    output = malloc((size_t)w * h * 3);
    rows = malloc(sizeof(png_bytep) * h);
    if (!output || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = output + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *rgb = output;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} png_writer;

static void png_write_memory(png_structp png, png_bytep bytes, png_size_t count) {
    png_writer *w = (png_writer *)png_get_io_ptr(png);
    if (w->size + count > w->capacity) {
        size_t capacity = w->capacity ? w->capacity : 4096;
        while (capacity < w->size + count) capacity *= 2;
        uint8_t *grown = realloc(w->data, capacity);
        if (!grown) png_error(png, "out of memory");
        w->data = grown;
        w->capacity = capacity;
    }
    memcpy(w->data + w->size, bytes, count);
    w->size += count;
}

static void png_flush_memory(png_structp png) { (void)png; }

int icodec_encode_png(const uint8_t *pixels, int width, int height, int channels,
                      const uint8_t *palette, int palette_count,
                      uint8_t **out, size_t *out_size,
                      char err[ICODEC_ERROR_LENGTH]) {
    *out = NULL;
    *out_size = 0;
    err[0] = 0;
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4
        || (channels == 1 && palette_count > 0 && (palette_count > 256 || !palette))) {
        snprintf(err, ICODEC_ERROR_LENGTH, "PNG encoder: bad dimensions, channel count or palette");
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, png_fail, png_warn);
    if (!png) { snprintf(err, ICODEC_ERROR_LENGTH, "libpng: cannot create write struct"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(err, ICODEC_ERROR_LENGTH, "libpng: cannot create info struct");
        return -1;
    }
    // The writer is static storage from setjmp's point of view: only its fields change.
    png_writer writer = { NULL, 0, 0 };
    png_writer *volatile wp = &writer;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(wp->data);
        return -1;
    }
    png_set_write_fn(png, wp, png_write_memory, png_flush_memory);
    static const int types[] = { PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA };
    int type = palette_count > 0 ? PNG_COLOR_TYPE_PALETTE : types[channels - 1];
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette_count > 0) {
        png_color entries[256];
        for (int i = 0; i < palette_count; i++) {
            entries[i].red = palette[3 * i];
            entries[i].green = palette[3 * i + 1];
            entries[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, info, entries, palette_count);
    }
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)width * (size_t)channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = writer.data;
    *out_size = writer.size;
    return 0;
}
