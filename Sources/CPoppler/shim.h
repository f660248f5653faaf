#include <poppler.h>
#include <zlib.h>
