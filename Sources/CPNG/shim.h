// libpng's simplified API (png_image): it reports errors in the struct instead of through
// longjmp, which Swift cannot use. Large PNG pages are decoded with it straight to grey.
#include <png.h>
