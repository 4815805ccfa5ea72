// libxml2's strict parser and RelaxNG validator, for the fuzzing oracle: a document that is not well-formed is
// refused, where Foundation's XMLDocument parses in recovery mode and accepts it.
#include <libxml/xmlversion.h>
// Debian's libxml2 is built with ICU, whose headers clash with the copy Foundation carries
// (_FoundationICU). Without the macro, encoding.h leaves them out; it only drops two pointer
// fields from the end of xmlCharEncodingHandler, a struct the oracle never touches.
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
// libvirt's RelaxNG schemas, which every rendered document must pass.
#include <libxml/relaxng.h>
