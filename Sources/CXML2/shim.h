// libxml2's streaming reader (xmlTextReader): XLSX parts are read node by node straight
// out of the zip, never held whole in memory.
#include <libxml/xmlreader.h>
