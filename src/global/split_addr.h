/*
 * split_addr - find the address extension in a local part
 * (recipient_delimiter), as the local and pipe agents need for ${user},
 * ${extension} and for table lookups without the extension.
 */
#ifndef SLUICE_SPLIT_ADDR_H
#define SLUICE_SPLIT_ADDR_H

#include <stddef.h>

/*
 * split_addr_ext - index of the delimiter that starts the extension in
 * localpart (the first character that is one of delimiters), or
 * strlen(localpart) when there is no extension.  An empty delimiter set,
 * a delimiter in the first position, and (when '-' is a delimiter) the
 * names "owner-..." and "...-request" have no extension, as in Postfix.
 */
size_t split_addr_ext(const char *localpart, const char *delimiters);

#endif
