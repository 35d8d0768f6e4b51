#ifndef MIXMAE_IMAGE_CODECS_H
#define MIXMAE_IMAGE_CODECS_H
#include <stddef.h>

/* PNG and JPEG decoding and encoding on top of libpng and libjpeg, with the
   libraries' error handlers replaced so that a broken file returns an error
   code and a message instead of printing to stderr or calling exit(). */

/// Result codes of the codec functions.
typedef enum {
    MIXMAE_IMAGE_OK = 0,
    MIXMAE_IMAGE_TRUNCATED = 1,    /* the data ends before the image does */
    MIXMAE_IMAGE_CORRUPT = 2,      /* the codec rejected the data */
    MIXMAE_IMAGE_UNSUPPORTED = 3,  /* valid, but not representable in the requested mode */
    MIXMAE_IMAGE_TOO_LARGE = 4,    /* more pixels than mixmae_image_max_pixels */
    MIXMAE_IMAGE_NO_MEMORY = 5,
    MIXMAE_IMAGE_INVALID_ARGUMENT = 6,
} mixmae_image_status;

/// What the decoder delivers.
typedef enum {
    /* 1 channel for grayscale, 3 for colour, 4 when the file has alpha
       (gray+alpha becomes RGBA); palettes are expanded. */
    MIXMAE_DECODE_ORIGINAL = 0,
    /* Always 3 channels; alpha and PNG transparency are dropped. */
    MIXMAE_DECODE_RGB = 1,
    /* Always 4 channels; opaque images get alpha 255. */
    MIXMAE_DECODE_RGBA = 2,
    /* 1 channel of raw values: grayscale samples or palette indices, with
       no scaling (a 2-bit map holds 0...3); 16-bit samples must be <= 255.
       Colour PNGs and any JPEG are rejected. */
    MIXMAE_DECODE_LABELS = 3,
} mixmae_decode_mode;

/// Output of a codec call. `data` is malloc'ed by the codec and must be
/// released with mixmae_image_buffer_free, on success only (it is NULL on error).
typedef struct {
    unsigned char *data; /* decoded pixels (HWC, 8-bit) or encoded file bytes */
    size_t size;         /* bytes in data */
    int width;
    int height;
    int channels;
    char message[256]; /* what went wrong, when the status is not OK */
} mixmae_image_result;

/// Largest width * height the decoders accept (178,956,970: Pillow's decompression-bomb limit).
extern const size_t mixmae_image_max_pixels;

int mixmae_png_decode(const unsigned char *bytes, size_t size, int mode,
                      mixmae_image_result *result);
int mixmae_jpeg_decode(const unsigned char *bytes, size_t size, int mode,
                       mixmae_image_result *result);
/// channels: 1 (gray), 3 (RGB) or 4 (RGBA); 8 bits per sample.
int mixmae_png_encode(const unsigned char *pixels, int width, int height, int channels,
                      mixmae_image_result *result);
/// channels: 1 (gray) or 3 (RGB); quality 1...100, 4:2:0 chroma subsampling for RGB.
int mixmae_jpeg_encode(const unsigned char *pixels, int width, int height, int channels,
                       int quality, mixmae_image_result *result);
void mixmae_image_buffer_free(void *data);
#endif
