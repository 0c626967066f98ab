// zlib (Debian zlib1g-dev): gzip decompression of the Fashion-MNIST files and the deflate stream of PNG images.
#pragma once
#include <zlib.h>
