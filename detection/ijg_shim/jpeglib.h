/*
 * Our stand-in for IJG libjpeg's jpeglib.h (see jinclude.h here): the types and the two structure members that
 * jidctint.c touches, nothing else. Never include it next to the system <jpeglib.h>; detection/ijg_idct.c is
 * the only file that does.
 */
#ifndef PDQ_IJG_SHIM_JPEGLIB_H
#define PDQ_IJG_SHIM_JPEGLIB_H

#include "jinclude.h"

#define BITS_IN_JSAMPLE 8
#define MAXJSAMPLE 255
#define CENTERJSAMPLE 128
#define GETJSAMPLE(value) ((int)(value))

#define DCTSIZE 8
#define DCTSIZE2 64

/* IJG 9f's configure leaves INT32 as long (jmorecfg.h); the arithmetic never needs more than 32 bits. */
typedef long INT32;
typedef short INT16;
typedef unsigned char JSAMPLE;
typedef short JCOEF;
typedef unsigned int JDIMENSION;
typedef JSAMPLE *JSAMPROW;
typedef JSAMPROW *JSAMPARRAY;
typedef JCOEF *JCOEFPTR;

/* The multiplier type of the islow tables (jmorecfg.h's MULTIPLIER). */
#define MULTIPLIER int

typedef struct {
    void *dct_table; /* ISLOW_MULT_TYPE[64]: the component's quantisation table, natural order */
} jpeg_component_info;

struct jpeg_decompress_struct {
    JSAMPLE *sample_range_limit; /* as IJG 9's jdmaster.c prepare_range_limit_table leaves it */
};
typedef struct jpeg_decompress_struct *j_decompress_ptr;

#endif
