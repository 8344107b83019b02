/*
 * Our stand-in for IJG libjpeg's jinclude.h, written for this project: just enough for IJG 9f's jidctint.c
 * (fetched at build time by scripts/fetch-ijg-idct.sh) to compile inside detection._jpegdct.
 * The values are IJG 9f's for 8-bit samples as its configure script builds them on a 64-bit Linux
 * (jconfig.h, jmorecfg.h, jpegint.h, jdct.h); they decide the rounding of every pixel, so they must stay so.
 */
#ifndef PDQ_IJG_SHIM_JINCLUDE_H
#define PDQ_IJG_SHIM_JINCLUDE_H

#include <stddef.h>

/* Function linkage. Every IJG function stays inside our extension module, never visible to (or clashing
 * with) the system libjpeg that the module links for reading coefficients. */
#define GLOBAL(type) __attribute__((visibility("hidden"))) type
#define LOCAL(type) static type
#define METHODDEF(type) static type
#define EXTERN(type) extern __attribute__((visibility("hidden"))) type
#define JPP(arglist) arglist

#endif
