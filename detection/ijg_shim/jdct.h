/*
 * Our stand-in for IJG libjpeg's jdct.h and the DCT parts of jpegint.h (see jinclude.h here): the fixed-point
 * macros of IJG 9f's integer inverse DCTs, and their prototypes under names of our own.
 */
#ifndef PDQ_IJG_SHIM_JDCT_H
#define PDQ_IJG_SHIM_JDCT_H

#include "jpeglib.h"

#define DCT_ISLOW_SUPPORTED
#define IDCT_SCALING_SUPPORTED

typedef int DCTELEM;                  /* 8-bit samples */
typedef MULTIPLIER ISLOW_MULT_TYPE;

/* Range limiting after the IDCT (jpegint.h, jdct.h): RANGE_BITS 2. */
#define RANGE_CENTER (CENTERJSAMPLE << 2)
#define RANGE_MASK (RANGE_CENTER * 2 - 1)
#define RANGE_SUBSET (RANGE_CENTER - CENTERJSAMPLE)
#define IDCT_range_limit(cinfo) ((cinfo)->sample_range_limit - RANGE_SUBSET)

/* Fixed-point helpers; CONST_BITS is set by jidctint.c itself. Right shifts are arithmetic (GCC, Clang). */
#define ONE ((INT32)1)
#define CONST_SCALE (ONE << CONST_BITS)
#define FIX(x) ((INT32)((x) * CONST_SCALE + 0.5))
#define MULTIPLY16C16(var, const) ((var) * (const))
#define MULTIPLY16V16(var1, var2) ((var1) * (var2))
#define SHIFT_TEMPS
#define RIGHT_SHIFT(x, shft) ((x) >> (shft))
#define DESCALE(x, n) RIGHT_SHIFT((x) + (ONE << ((n) - 1)), n)
#define ISHIFT_TEMPS
#define IRIGHT_SHIFT(x, shft) ((x) >> (shft))

/* Our names for IJG's, so nothing can bind to the system libjpeg's functions of the same names. */
#define PDQ_IJG_IDCT(name) pdq_ijg9f_idct_##name
#define jpeg_idct_islow PDQ_IJG_IDCT(islow)
#define jpeg_idct_1x1 PDQ_IJG_IDCT(1x1)
#define jpeg_idct_2x2 PDQ_IJG_IDCT(2x2)
#define jpeg_idct_3x3 PDQ_IJG_IDCT(3x3)
#define jpeg_idct_4x4 PDQ_IJG_IDCT(4x4)
#define jpeg_idct_5x5 PDQ_IJG_IDCT(5x5)
#define jpeg_idct_6x6 PDQ_IJG_IDCT(6x6)
#define jpeg_idct_7x7 PDQ_IJG_IDCT(7x7)
#define jpeg_idct_9x9 PDQ_IJG_IDCT(9x9)
#define jpeg_idct_10x10 PDQ_IJG_IDCT(10x10)
#define jpeg_idct_11x11 PDQ_IJG_IDCT(11x11)
#define jpeg_idct_12x12 PDQ_IJG_IDCT(12x12)
#define jpeg_idct_13x13 PDQ_IJG_IDCT(13x13)
#define jpeg_idct_14x14 PDQ_IJG_IDCT(14x14)
#define jpeg_idct_15x15 PDQ_IJG_IDCT(15x15)
#define jpeg_idct_16x16 PDQ_IJG_IDCT(16x16)
#define jpeg_idct_16x8 PDQ_IJG_IDCT(16x8)
#define jpeg_idct_14x7 PDQ_IJG_IDCT(14x7)
#define jpeg_idct_12x6 PDQ_IJG_IDCT(12x6)
#define jpeg_idct_10x5 PDQ_IJG_IDCT(10x5)
#define jpeg_idct_8x4 PDQ_IJG_IDCT(8x4)
#define jpeg_idct_6x3 PDQ_IJG_IDCT(6x3)
#define jpeg_idct_4x2 PDQ_IJG_IDCT(4x2)
#define jpeg_idct_2x1 PDQ_IJG_IDCT(2x1)
#define jpeg_idct_8x16 PDQ_IJG_IDCT(8x16)
#define jpeg_idct_7x14 PDQ_IJG_IDCT(7x14)
#define jpeg_idct_6x12 PDQ_IJG_IDCT(6x12)
#define jpeg_idct_5x10 PDQ_IJG_IDCT(5x10)
#define jpeg_idct_4x8 PDQ_IJG_IDCT(4x8)
#define jpeg_idct_3x6 PDQ_IJG_IDCT(3x6)
#define jpeg_idct_2x4 PDQ_IJG_IDCT(2x4)
#define jpeg_idct_1x2 PDQ_IJG_IDCT(1x2)

#define PDQ_IJG_IDCT_ARGS \
    (j_decompress_ptr cinfo, jpeg_component_info *compptr, JCOEFPTR coef_block, JSAMPARRAY output_buf, \
     JDIMENSION output_col)
#define PDQ_IJG_IDCT_DECLARE(name) EXTERN(void) jpeg_idct_##name PDQ_IJG_IDCT_ARGS;
PDQ_IJG_IDCT_DECLARE(islow)
PDQ_IJG_IDCT_DECLARE(1x1)
PDQ_IJG_IDCT_DECLARE(2x2)
PDQ_IJG_IDCT_DECLARE(3x3)
PDQ_IJG_IDCT_DECLARE(4x4)
PDQ_IJG_IDCT_DECLARE(5x5)
PDQ_IJG_IDCT_DECLARE(6x6)
PDQ_IJG_IDCT_DECLARE(7x7)
PDQ_IJG_IDCT_DECLARE(9x9)
PDQ_IJG_IDCT_DECLARE(10x10)
PDQ_IJG_IDCT_DECLARE(11x11)
PDQ_IJG_IDCT_DECLARE(12x12)
PDQ_IJG_IDCT_DECLARE(13x13)
PDQ_IJG_IDCT_DECLARE(14x14)
PDQ_IJG_IDCT_DECLARE(15x15)
PDQ_IJG_IDCT_DECLARE(16x16)
PDQ_IJG_IDCT_DECLARE(16x8)
PDQ_IJG_IDCT_DECLARE(14x7)
PDQ_IJG_IDCT_DECLARE(12x6)
PDQ_IJG_IDCT_DECLARE(10x5)
PDQ_IJG_IDCT_DECLARE(8x4)
PDQ_IJG_IDCT_DECLARE(6x3)
PDQ_IJG_IDCT_DECLARE(4x2)
PDQ_IJG_IDCT_DECLARE(2x1)
PDQ_IJG_IDCT_DECLARE(8x16)
PDQ_IJG_IDCT_DECLARE(7x14)
PDQ_IJG_IDCT_DECLARE(6x12)
PDQ_IJG_IDCT_DECLARE(5x10)
PDQ_IJG_IDCT_DECLARE(4x8)
PDQ_IJG_IDCT_DECLARE(3x6)
PDQ_IJG_IDCT_DECLARE(2x4)
PDQ_IJG_IDCT_DECLARE(1x2)

#endif
