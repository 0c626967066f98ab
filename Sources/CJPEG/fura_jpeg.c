#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
#include "fura_jpeg.h"

struct fura_jpeg_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void fura_jpeg_error_exit(j_common_ptr info) {
    struct fura_jpeg_error *error = (struct fura_jpeg_error *)info->err;
    (*info->err->format_message)(info, error->message);
    longjmp(error->jump, 1);
}

/* Warnings (corrupt but decodable data) are not printed: the caller gets pixels or one error line. */
static void fura_jpeg_quiet(j_common_ptr info) { (void)info; }

int fura_jpeg_decode(const unsigned char *data, unsigned long size, long max_pixels, unsigned char **pixels,
                     int *width, int *height, int *channels, char *message, int message_length) {
    struct jpeg_decompress_struct info;
    struct fura_jpeg_error error;
    unsigned char *volatile out = NULL;
    *pixels = NULL;
    info.err = jpeg_std_error(&error.manager);
    error.manager.error_exit = fura_jpeg_error_exit;
    error.manager.output_message = fura_jpeg_quiet;
    if (setjmp(error.jump)) {
        snprintf(message, (size_t)message_length, "%s", error.message);
        jpeg_destroy_decompress(&info);
        free(out);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, size);
    if (jpeg_read_header(&info, TRUE) != JPEG_HEADER_OK) {
        snprintf(message, (size_t)message_length, "no JPEG image in the data");
        jpeg_destroy_decompress(&info);
        return -1;
    }
    long w = (long)info.image_width, h = (long)info.image_height;
    if (w <= 0 || h <= 0 || w > max_pixels / h) {
        snprintf(message, (size_t)message_length, "%ld x %ld pixels, more than the %ld an image may have", w, h, max_pixels);
        jpeg_destroy_decompress(&info);
        return -1;
    }
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    long c = (long)info.output_components;
    w = (long)info.output_width;
    h = (long)info.output_height;
    out = malloc((size_t)(w * h * c));
    if (out == NULL) {
        snprintf(message, (size_t)message_length, "out of memory for %ld x %ld pixels", w, h);
        jpeg_destroy_decompress(&info);
        return -1;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = out + (size_t)info.output_scanline * (size_t)(w * c);
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    *pixels = out;
    *width = (int)w;
    *height = (int)h;
    *channels = (int)c;
    return 0;
}

void fura_jpeg_free(unsigned char *pixels) { free(pixels); }
