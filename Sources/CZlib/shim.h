// zlib (Debian's zlib1g-dev), for the PNG encoder of screenshots: deflate and CRC-32, which
// PNG is built on, from the library every Debian system already has.
#include <zlib.h>
