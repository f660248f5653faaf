// libfcgi's request API. FCGX_FPrintF is C-variadic and cannot be called from Swift;
// Assay writes with FCGX_PutStr instead, so no wrapper is needed for it.
#include <fcgiapp.h>
