// libxml2's streaming reader (xmlTextReader): XLSX parts are read node by node straight
// out of the zip, never held whole in memory.
//
// Debian builds libxml2 with ICU, so its encoding header pulls in the system's ICU headers,
// whose types clash with the ICU copy inside Foundation in any Swift module that sees both
// ('UErrorCode' has different definitions). Assay never touches libxml2's encoding handlers
// (the only place ICU types appear), so the ICU part of the headers is left out.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/xmlreader.h>
