/* A strict JSON validator for the tests (RFC 8259 grammar, no extensions): true when the whole
 * text is exactly one JSON value, surrounding whitespace allowed. Small on purpose: the tests
 * check shape with it and content with string searches. */
#ifndef TS_TEST_JSON_CHECK_H
#define TS_TEST_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

bool json_valid(const char *text, size_t len);

#endif
