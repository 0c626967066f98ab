#ifndef FURA_JPEG_H
#define FURA_JPEG_H

/// Decodes a baseline or progressive JPEG with Debian's libjpeg-turbo into 8-bit grey (1 channel) or RGB (3 channels),
/// row-major. Returns 0 and a malloc'ed buffer (free with fura_jpeg_free), or -1 with a one-line message; images of
/// more than max_pixels pixels are refused before any pixel buffer is allocated. libjpeg reports errors by longjmp,
/// which Swift cannot catch: this shim is where they land.
int fura_jpeg_decode(const unsigned char *data, unsigned long size, long max_pixels, unsigned char **pixels,
                     int *width, int *height, int *channels, char *message, int message_length);

void fura_jpeg_free(unsigned char *pixels);

#endif
