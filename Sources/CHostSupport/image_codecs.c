/* PNG and JPEG codecs for the host. Both libraries report fatal errors by
   calling an error handler that must not return; the default handlers print
   to stderr and (libjpeg) call exit(). Here every handler records the message
   and longjmps back to the entry point, which frees what it allocated and
   returns a status code. Swift cannot call setjmp, which is why this is C.

   setjmp rule followed below: each entry point keeps all of its mutable state
   in a struct owned by the caller and passes a pointer to an inner function
   that calls setjmp, so no local variable of the setjmp frame changes after
   setjmp returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jpeglib.h needs size_t and FILE declared first. */
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "mixmae_image_codecs.h"

/* Pillow's DecompressionBombError threshold (2 * Image.MAX_IMAGE_PIXELS):
   a 13,000 x 13,000 photo is accepted, a small file claiming gigapixels is not. */
const size_t mixmae_image_max_pixels = 178956970;
/* Largest ancillary chunk libpng may decompress (iCCP, zTXt, iTXt): 8 MiB. */
static const png_alloc_size_t png_chunk_limit = (png_alloc_size_t)8 << 20;
/* Most ancillary chunks kept (tEXt, sPLT, unknown): libpng's own default. */
static const png_uint_32 png_chunk_count_limit = 1000;
/* Most memory libjpeg may use beyond the output (progressive coefficients). */
static const long jpeg_memory_limit = 1L << 30;
/* Most scans of a progressive JPEG (libjpeg-turbo's advice against scan bombs). */
static const int jpeg_scan_limit = 500;

static void set_message(mixmae_image_result *result, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(result->message, sizeof result->message, format, args);
    va_end(args);
}

void mixmae_image_buffer_free(void *data) { free(data); }

static int check_pixel_count(size_t width, size_t height, mixmae_image_result *result) {
    if (width == 0 || height == 0) {
        set_message(result, "the image has no pixels (%zux%zu)", width, height);
        return MIXMAE_IMAGE_CORRUPT;
    }
    if (width > mixmae_image_max_pixels / height) {
        set_message(result,
                    "%zux%zu pixels is more than the limit of %zu pixels (a decompression bomb, "
                    "or an image too large to train on): resize it",
                    width, height, mixmae_image_max_pixels);
        return MIXMAE_IMAGE_TOO_LARGE;
    }
    return MIXMAE_IMAGE_OK;
}

/* ---------------------------------------------------------------- PNG -- */

typedef struct {
    png_structp png;
    png_infop info;
    const unsigned char *bytes;
    size_t size;
    size_t offset;
    int truncated;
    unsigned char *pixels;   /* output, owned until handed to the result */
    unsigned char *samples;  /* 16-bit label rows before narrowing */
    png_bytep *rows;
    unsigned char *encoded;  /* encoder output buffer */
    size_t encoded_size;
    size_t encoded_capacity;
    int out_of_memory;
    mixmae_image_result *result;
} png_state;

static void png_on_error(png_structp png, png_const_charp message) {
    png_state *state = (png_state *)png_get_error_ptr(png);
    set_message(state->result, "%s", message);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void png_read_from_memory(png_structp png, png_bytep out, size_t count) {
    png_state *state = (png_state *)png_get_io_ptr(png);
    if (count > state->size - state->offset) {
        state->truncated = 1;
        png_error(png, "the data ends before the image does");
    }
    memcpy(out, state->bytes + state->offset, count);
    state->offset += count;
}

static const char *png_color_type_name(int color_type) {
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return "grayscale";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "grayscale+alpha";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    default: return "unknown";
    }
}

/* Sets up libpng's transforms for `mode` and returns the channel count they
   produce, or -1 (with a message) when the mode cannot take this file. */
static int png_configure(png_state *state, int mode, int color_type, int bit_depth) {
    png_structp png = state->png;
    int has_trns = png_get_valid(png, state->info, PNG_INFO_tRNS) != 0;
    int has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0 || has_trns;
    int is_gray = (color_type & PNG_COLOR_MASK_COLOR) == 0;

    if (mode == MIXMAE_DECODE_LABELS) {
        if (color_type != PNG_COLOR_TYPE_GRAY && color_type != PNG_COLOR_TYPE_PALETTE) {
            set_message(state->result,
                        "a label map must be a single-channel PNG (grayscale or palette), "
                        "this one is %s",
                        png_color_type_name(color_type));
            return -1;
        }
        if (bit_depth < 8) png_set_packing(png);
        return 1;
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (is_gray && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16) png_set_strip_16(png);

    int channels;
    if (mode == MIXMAE_DECODE_RGB) {
        channels = 3;
        if (has_alpha) png_set_strip_alpha(png);
    } else if (mode == MIXMAE_DECODE_RGBA) {
        channels = 4;
        if (has_trns) png_set_tRNS_to_alpha(png);
        if (!has_alpha) png_set_add_alpha(png, 0xffff, PNG_FILLER_AFTER);
    } else {
        channels = has_alpha ? 4 : (is_gray ? 1 : 3);
        if (has_trns) png_set_tRNS_to_alpha(png);
    }
    if (is_gray && channels != 1) png_set_gray_to_rgb(png);
    return channels;
}

/* Narrows big-endian 16-bit label samples to 8 bits, refusing values > 255. */
static int png_narrow_labels(png_state *state, size_t width, size_t height) {
    for (size_t y = 0; y < height; y++) {
        const unsigned char *row = state->samples + y * width * 2;
        for (size_t x = 0; x < width; x++) {
            unsigned value = ((unsigned)row[2 * x] << 8) | row[2 * x + 1];
            if (value > 255) {
                set_message(state->result,
                            "16-bit label value %u at x=%zu y=%zu does not fit in 8 bits; "
                            "label maps hold class indices 0...255",
                            value, x, y);
                return MIXMAE_IMAGE_UNSUPPORTED;
            }
            state->pixels[y * width + x] = (unsigned char)value;
        }
    }
    return MIXMAE_IMAGE_OK;
}

static int png_decode_inner(png_state *state, int mode) {
    mixmae_image_result *result = state->result;
    if (setjmp(png_jmpbuf(state->png))) {
        if (state->out_of_memory) return MIXMAE_IMAGE_NO_MEMORY;
        return state->truncated ? MIXMAE_IMAGE_TRUNCATED : MIXMAE_IMAGE_CORRUPT;
    }
    png_set_read_fn(state->png, state, png_read_from_memory);
    png_set_user_limits(state->png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(state->png, png_chunk_limit);
    png_set_chunk_cache_max(state->png, png_chunk_count_limit);
    png_read_info(state->png, state->info);

    png_uint_32 width, height;
    int bit_depth, color_type, interlace;
    png_get_IHDR(state->png, state->info, &width, &height, &bit_depth, &color_type, &interlace,
                 NULL, NULL);
    int status = check_pixel_count(width, height, result);
    if (status != MIXMAE_IMAGE_OK) return status;

    int channels = png_configure(state, mode, color_type, bit_depth);
    if (channels < 0) return MIXMAE_IMAGE_UNSUPPORTED;
    png_set_interlace_handling(state->png);
    png_read_update_info(state->png, state->info);

    int wide = mode == MIXMAE_DECODE_LABELS && bit_depth == 16;
    size_t row_bytes = (size_t)width * channels * (wide ? 2 : 1);
    if (png_get_channels(state->png, state->info) != channels ||
        png_get_rowbytes(state->png, state->info) != row_bytes) {
        set_message(result, "unexpected %s PNG layout: %d channels, %zu bytes per row",
                    png_color_type_name(color_type), png_get_channels(state->png, state->info),
                    (size_t)png_get_rowbytes(state->png, state->info));
        return MIXMAE_IMAGE_UNSUPPORTED;
    }

    state->pixels = malloc((size_t)width * height * channels);
    state->rows = malloc(sizeof(png_bytep) * height);
    if (wide) state->samples = malloc(row_bytes * height);
    if (!state->pixels || !state->rows || (wide && !state->samples)) {
        set_message(result, "out of memory for %ux%u pixels", width, height);
        return MIXMAE_IMAGE_NO_MEMORY;
    }
    unsigned char *target = wide ? state->samples : state->pixels;
    for (png_uint_32 y = 0; y < height; y++) state->rows[y] = target + (size_t)y * row_bytes;
    png_read_image(state->png, state->rows);
    if (wide) {
        status = png_narrow_labels(state, width, height);
        if (status != MIXMAE_IMAGE_OK) return status;
    }

    result->data = state->pixels;
    result->size = (size_t)width * height * channels;
    result->width = (int)width;
    result->height = (int)height;
    result->channels = channels;
    state->pixels = NULL;
    return MIXMAE_IMAGE_OK;
}

int mixmae_png_decode(const unsigned char *bytes, size_t size, int mode,
                      mixmae_image_result *result) {
    memset(result, 0, sizeof *result);
    if (mode < MIXMAE_DECODE_ORIGINAL || mode > MIXMAE_DECODE_LABELS) {
        set_message(result, "unknown decode mode %d", mode);
        return MIXMAE_IMAGE_INVALID_ARGUMENT;
    }
    if (size < 8 || png_sig_cmp(bytes, 0, 8) != 0) {
        set_message(result, "no PNG signature");
        return size < 8 ? MIXMAE_IMAGE_TRUNCATED : MIXMAE_IMAGE_CORRUPT;
    }
    png_state state;
    memset(&state, 0, sizeof state);
    state.bytes = bytes;
    state.size = size;
    state.result = result;
    state.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, png_on_error,
                                       png_on_warning);
    if (state.png) state.info = png_create_info_struct(state.png);
    int status;
    if (!state.png || !state.info) {
        set_message(result, "libpng could not allocate its decoder");
        status = MIXMAE_IMAGE_NO_MEMORY;
    } else {
        status = png_decode_inner(&state, mode);
    }
    png_destroy_read_struct(state.png ? &state.png : NULL, state.info ? &state.info : NULL, NULL);
    free(state.pixels);
    free(state.samples);
    free(state.rows);
    return status;
}

static void png_write_to_memory(png_structp png, png_bytep data, size_t count) {
    png_state *state = (png_state *)png_get_io_ptr(png);
    if (count > state->encoded_capacity - state->encoded_size) {
        size_t capacity = state->encoded_capacity ? state->encoded_capacity : 4096;
        while (capacity - state->encoded_size < count) capacity *= 2;
        unsigned char *grown = realloc(state->encoded, capacity);
        if (!grown) {
            state->out_of_memory = 1;
            png_error(png, "out of memory for the encoded PNG");
        }
        state->encoded = grown;
        state->encoded_capacity = capacity;
    }
    memcpy(state->encoded + state->encoded_size, data, count);
    state->encoded_size += count;
}

static void png_flush_nothing(png_structp png) { (void)png; }

static int png_encode_inner(png_state *state, const unsigned char *pixels, int width, int height,
                            int channels) {
    if (setjmp(png_jmpbuf(state->png))) {
        return state->out_of_memory ? MIXMAE_IMAGE_NO_MEMORY : MIXMAE_IMAGE_CORRUPT;
    }
    int color_type = channels == 1   ? PNG_COLOR_TYPE_GRAY
                     : channels == 3 ? PNG_COLOR_TYPE_RGB
                                     : PNG_COLOR_TYPE_RGB_ALPHA;
    png_set_write_fn(state->png, state, png_write_to_memory, png_flush_nothing);
    png_set_IHDR(state->png, state->info, (png_uint_32)width, (png_uint_32)height, 8, color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(state->png, state->info);
    size_t row_bytes = (size_t)width * channels;
    for (int y = 0; y < height; y++) {
        png_write_row(state->png, pixels + (size_t)y * row_bytes);
    }
    png_write_end(state->png, NULL);
    state->result->data = state->encoded;
    state->result->size = state->encoded_size;
    state->result->width = width;
    state->result->height = height;
    state->result->channels = channels;
    state->encoded = NULL;
    return MIXMAE_IMAGE_OK;
}

int mixmae_png_encode(const unsigned char *pixels, int width, int height, int channels,
                      mixmae_image_result *result) {
    memset(result, 0, sizeof *result);
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3 && channels != 4)) {
        set_message(result, "cannot encode %dx%d pixels with %d channels as PNG", width, height,
                    channels);
        return MIXMAE_IMAGE_INVALID_ARGUMENT;
    }
    png_state state;
    memset(&state, 0, sizeof state);
    state.result = result;
    state.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, png_on_error,
                                        png_on_warning);
    if (state.png) state.info = png_create_info_struct(state.png);
    int status;
    if (!state.png || !state.info) {
        set_message(result, "libpng could not allocate its encoder");
        status = MIXMAE_IMAGE_NO_MEMORY;
    } else {
        status = png_encode_inner(&state, pixels, width, height, channels);
    }
    png_destroy_write_struct(state.png ? &state.png : NULL, state.info ? &state.info : NULL);
    free(state.encoded);
    return status;
}

/* --------------------------------------------------------------- JPEG -- */

typedef struct {
    struct jpeg_error_mgr manager; /* first, so the library's pointer is ours */
    jmp_buf jump;
    int truncated;
    mixmae_image_result *result;
} jpeg_errors;

static void jpeg_on_error_exit(j_common_ptr info) {
    jpeg_errors *errors = (jpeg_errors *)info->err;
    char text[JMSG_LENGTH_MAX];
    (*info->err->format_message)(info, text);
    set_message(errors->result, "%s", text);
    longjmp(errors->jump, 1);
}

/* Warnings are ignored (libjpeg recovers from them, as every viewer does),
   except running out of data: libjpeg would pad the image with gray. */
static void jpeg_on_message(j_common_ptr info, int level) {
    /* A data segment that ends early (at a marker) is a truncated image too:
       libjpeg would fill the rest with gray, and a few hundred bytes could
       claim a 14-megapixel image that then takes seconds to "decode". */
    if (level < 0 && (info->err->msg_code == JWRN_JPEG_EOF || info->err->msg_code == JWRN_HIT_MARKER)) {
        jpeg_errors *errors = (jpeg_errors *)info->err;
        errors->truncated = 1;
        set_message(errors->result, "the data ends before the image does");
        longjmp(errors->jump, 1);
    }
}

static void jpeg_output_nothing(j_common_ptr info) { (void)info; }

/* Stops a progressive JPEG with more scans than any real encoder writes:
   each scan re-reads the whole coefficient buffer, so a few KiB of scan
   headers could otherwise keep the decoder busy for minutes. */
static void jpeg_limit_scans(j_common_ptr common) {
    if (!common->is_decompressor) return;
    j_decompress_ptr info = (j_decompress_ptr)common;
    if (info->input_scan_number > jpeg_scan_limit) {
        jpeg_errors *errors = (jpeg_errors *)info->err;
        set_message(errors->result, "the JPEG has more than %d scans (a decompression bomb?)", jpeg_scan_limit);
        longjmp(errors->jump, 1);
    }
}

static void jpeg_install_errors(jpeg_errors *errors, mixmae_image_result *result) {
    jpeg_std_error(&errors->manager);
    errors->manager.error_exit = jpeg_on_error_exit;
    errors->manager.emit_message = jpeg_on_message;
    errors->manager.output_message = jpeg_output_nothing;
    errors->result = result;
}

typedef struct {
    struct jpeg_decompress_struct info;
    jpeg_errors errors;
    struct jpeg_progress_mgr progress;
    int created;
    unsigned char *pixels;
    unsigned char *cmyk_row;
} jpeg_decoder;

/* a * b / 255 rounded, for a, b in 0...255. */
static inline int multiply_255(int a, int b) {
    int product = a * b + 128;
    return ((product >> 8) + product) >> 8;
}

/* Converts one row of CMYK as stored by Adobe applications (inverted: 255 is
   no ink) to RGB(A) the way Pillow does: r = (1 - c) * (1 - k). */
static void jpeg_cmyk_row_to_rgb(const unsigned char *cmyk, unsigned char *out, size_t width,
                                 int channels) {
    for (size_t x = 0; x < width; x++, cmyk += 4, out += channels) {
        int paper = cmyk[3]; /* 255 - k */
        for (int c = 0; c < 3; c++) {
            int ink = 255 - cmyk[c];
            out[c] = (unsigned char)(paper - multiply_255(ink, paper));
        }
        if (channels == 4) out[3] = 255;
    }
}

static int jpeg_decode_inner(jpeg_decoder *decoder, const unsigned char *bytes, size_t size,
                             int mode, mixmae_image_result *result) {
    struct jpeg_decompress_struct *info = &decoder->info;
    info->err = &decoder->errors.manager;
    if (setjmp(decoder->errors.jump)) {
        return decoder->errors.truncated ? MIXMAE_IMAGE_TRUNCATED : MIXMAE_IMAGE_CORRUPT;
    }
    jpeg_create_decompress(info);
    decoder->created = 1;
    info->mem->max_memory_to_use = jpeg_memory_limit;
    decoder->progress.progress_monitor = jpeg_limit_scans;
    info->progress = &decoder->progress;
    jpeg_mem_src(info, bytes, (unsigned long)size);
    jpeg_read_header(info, TRUE);
    if (mode == MIXMAE_DECODE_LABELS) {
        set_message(result, "JPEG is lossy and cannot hold a label map; store label maps as PNG");
        return MIXMAE_IMAGE_UNSUPPORTED;
    }
    int status = check_pixel_count(info->image_width, info->image_height, result);
    if (status != MIXMAE_IMAGE_OK) return status;

    J_COLOR_SPACE space = info->jpeg_color_space;
    int cmyk = space == JCS_CMYK || space == JCS_YCCK;
    int gray = space == JCS_GRAYSCALE;
    if (!cmyk && !gray && space != JCS_YCbCr && space != JCS_RGB) {
        set_message(result, "unsupported JPEG color space with %d components",
                    info->num_components);
        return MIXMAE_IMAGE_UNSUPPORTED;
    }
    int channels = mode == MIXMAE_DECODE_RGBA ? 4 : (mode == MIXMAE_DECODE_RGB || !gray) ? 3 : 1;
    if (cmyk) {
        info->out_color_space = JCS_CMYK;
    } else {
        info->out_color_space = channels == 1 ? JCS_GRAYSCALE
                                : channels == 3 ? JCS_RGB
                                                : JCS_EXT_RGBA;
    }
    jpeg_start_decompress(info);
    if (info->output_components != (cmyk ? 4 : channels)) {
        set_message(result, "libjpeg produced %d components instead of %d",
                    info->output_components, cmyk ? 4 : channels);
        return MIXMAE_IMAGE_UNSUPPORTED;
    }
    size_t width = info->output_width, height = info->output_height;
    size_t stride = width * channels;
    decoder->pixels = malloc(stride * height);
    if (cmyk) decoder->cmyk_row = malloc(width * 4);
    if (!decoder->pixels || (cmyk && !decoder->cmyk_row)) {
        set_message(result, "out of memory for %zux%zu pixels", width, height);
        return MIXMAE_IMAGE_NO_MEMORY;
    }
    while (info->output_scanline < height) {
        size_t y = info->output_scanline;
        JSAMPROW row = cmyk ? decoder->cmyk_row : decoder->pixels + y * stride;
        if (jpeg_read_scanlines(info, &row, 1) != 1) {
            set_message(result, "the data ends before the image does");
            return MIXMAE_IMAGE_TRUNCATED;
        }
        if (cmyk) jpeg_cmyk_row_to_rgb(row, decoder->pixels + y * stride, width, channels);
    }
    /* jpeg_finish_decompress is skipped on purpose: all pixels are in, and a
       missing end marker after them is harmless. */
    result->data = decoder->pixels;
    result->size = stride * height;
    result->width = (int)width;
    result->height = (int)height;
    result->channels = channels;
    decoder->pixels = NULL;
    return MIXMAE_IMAGE_OK;
}

int mixmae_jpeg_decode(const unsigned char *bytes, size_t size, int mode,
                       mixmae_image_result *result) {
    memset(result, 0, sizeof *result);
    if (mode < MIXMAE_DECODE_ORIGINAL || mode > MIXMAE_DECODE_LABELS) {
        set_message(result, "unknown decode mode %d", mode);
        return MIXMAE_IMAGE_INVALID_ARGUMENT;
    }
    if (size < 3 || bytes[0] != 0xFF || bytes[1] != 0xD8 || bytes[2] != 0xFF) {
        set_message(result, "no JPEG start-of-image marker");
        return size < 3 ? MIXMAE_IMAGE_TRUNCATED : MIXMAE_IMAGE_CORRUPT;
    }
    jpeg_decoder decoder;
    memset(&decoder, 0, sizeof decoder);
    jpeg_install_errors(&decoder.errors, result);
    int status = jpeg_decode_inner(&decoder, bytes, size, mode, result);
    if (decoder.created) jpeg_destroy_decompress(&decoder.info);
    free(decoder.pixels);
    free(decoder.cmyk_row);
    return status;
}

/* A destination that grows a buffer owned by the encoder (jpeg_mem_dest
   would leave a dangling pointer behind if encoding failed midway). */
typedef struct {
    struct jpeg_destination_mgr manager; /* first, so the library's pointer is ours */
    unsigned char *buffer;
    size_t capacity;
    size_t size;
} jpeg_destination;

static void jpeg_destination_start(j_compress_ptr info) {
    jpeg_destination *destination = (jpeg_destination *)info->dest;
    destination->capacity = 1 << 16;
    destination->buffer = malloc(destination->capacity);
    if (!destination->buffer) ERREXIT1(info, JERR_OUT_OF_MEMORY, 0);
    destination->manager.next_output_byte = destination->buffer;
    destination->manager.free_in_buffer = destination->capacity;
}

static boolean jpeg_destination_grow(j_compress_ptr info) {
    jpeg_destination *destination = (jpeg_destination *)info->dest;
    size_t used = destination->capacity;
    unsigned char *grown = realloc(destination->buffer, used * 2);
    if (!grown) ERREXIT1(info, JERR_OUT_OF_MEMORY, 0);
    destination->buffer = grown;
    destination->capacity = used * 2;
    destination->manager.next_output_byte = grown + used;
    destination->manager.free_in_buffer = destination->capacity - used;
    return TRUE;
}

static void jpeg_destination_finish(j_compress_ptr info) {
    jpeg_destination *destination = (jpeg_destination *)info->dest;
    destination->size = destination->capacity - destination->manager.free_in_buffer;
}

typedef struct {
    struct jpeg_compress_struct info;
    jpeg_errors errors;
    jpeg_destination destination;
    int created;
} jpeg_encoder;

static int jpeg_encode_inner(jpeg_encoder *encoder, const unsigned char *pixels, int width,
                             int height, int channels, int quality, mixmae_image_result *result) {
    struct jpeg_compress_struct *info = &encoder->info;
    info->err = &encoder->errors.manager;
    if (setjmp(encoder->errors.jump)) return MIXMAE_IMAGE_CORRUPT;
    jpeg_create_compress(info);
    encoder->created = 1;
    encoder->destination.manager.init_destination = jpeg_destination_start;
    encoder->destination.manager.empty_output_buffer = jpeg_destination_grow;
    encoder->destination.manager.term_destination = jpeg_destination_finish;
    info->dest = &encoder->destination.manager;
    info->image_width = (JDIMENSION)width;
    info->image_height = (JDIMENSION)height;
    info->input_components = channels;
    info->in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(info);
    jpeg_set_quality(info, quality, TRUE);
    jpeg_start_compress(info, TRUE);
    size_t stride = (size_t)width * channels;
    while (info->next_scanline < info->image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + info->next_scanline * stride);
        jpeg_write_scanlines(info, &row, 1);
    }
    jpeg_finish_compress(info);
    result->data = encoder->destination.buffer;
    result->size = encoder->destination.size;
    result->width = width;
    result->height = height;
    result->channels = channels;
    encoder->destination.buffer = NULL;
    return MIXMAE_IMAGE_OK;
}

int mixmae_jpeg_encode(const unsigned char *pixels, int width, int height, int channels,
                       int quality, mixmae_image_result *result) {
    memset(result, 0, sizeof *result);
    if (width <= 0 || height <= 0 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION) {
        set_message(result, "JPEG cannot hold %dx%d pixels (1...%d per side)", width, height,
                    JPEG_MAX_DIMENSION);
        return MIXMAE_IMAGE_INVALID_ARGUMENT;
    }
    if (channels != 1 && channels != 3) {
        set_message(result,
                    "JPEG holds 1 (gray) or 3 (RGB) channels, not %d; drop the alpha channel "
                    "or write PNG",
                    channels);
        return MIXMAE_IMAGE_INVALID_ARGUMENT;
    }
    if (quality < 1 || quality > 100) {
        set_message(result, "JPEG quality must be 1...100, not %d", quality);
        return MIXMAE_IMAGE_INVALID_ARGUMENT;
    }
    jpeg_encoder encoder;
    memset(&encoder, 0, sizeof encoder);
    jpeg_install_errors(&encoder.errors, result);
    int status = jpeg_encode_inner(&encoder, pixels, width, height, channels, quality, result);
    if (encoder.created) jpeg_destroy_compress(&encoder.info);
    free(encoder.destination.buffer);
    return status;
}
