/*
 * Content types by file name, for the files the server hands out as they
 * are (the JupyterLab assets, kernelspec logos, /files/).
 */
#ifndef CELLGATE_MIME_H
#define CELLGATE_MIME_H

#include <stdbool.h>

/* The type for name's extension, "application/octet-stream" if unknown.
 * Text types carry "; charset=utf-8". */
const char *mime_type_of(const char *name);

/* True for types worth compressing (text, JSON, SVG, fonts without their
 * own compression). */
bool mime_is_compressible(const char *type);

#endif
