/*
 * The bridge between detection/_jpegdct.c and IJG libjpeg 9f's jidctint.c (see ijg_idct.h). Compiled with
 * detection/ijg_shim/ on the include path, never with the system libjpeg's headers.
 */
#include "ijg_idct.h"

#include "jdct.h"

typedef void (*idct_method) PDQ_IJG_IDCT_ARGS;

struct method_entry {
    int h_size, v_size;
    idct_method method;
};

/* IJG 9f's jddctmgr.c start_pass, JDCT_ISLOW: every (DCT_h_scaled_size, DCT_v_scaled_size) it knows. */
static const struct method_entry methods[] = {
    {1, 1, jpeg_idct_1x1},     {2, 2, jpeg_idct_2x2},     {3, 3, jpeg_idct_3x3},     {4, 4, jpeg_idct_4x4},
    {5, 5, jpeg_idct_5x5},     {6, 6, jpeg_idct_6x6},     {7, 7, jpeg_idct_7x7},     {8, 8, jpeg_idct_islow},
    {9, 9, jpeg_idct_9x9},     {10, 10, jpeg_idct_10x10}, {11, 11, jpeg_idct_11x11}, {12, 12, jpeg_idct_12x12},
    {13, 13, jpeg_idct_13x13}, {14, 14, jpeg_idct_14x14}, {15, 15, jpeg_idct_15x15}, {16, 16, jpeg_idct_16x16},
    {16, 8, jpeg_idct_16x8},   {14, 7, jpeg_idct_14x7},   {12, 6, jpeg_idct_12x6},   {10, 5, jpeg_idct_10x5},
    {8, 4, jpeg_idct_8x4},     {6, 3, jpeg_idct_6x3},     {4, 2, jpeg_idct_4x2},     {2, 1, jpeg_idct_2x1},
    {8, 16, jpeg_idct_8x16},   {7, 14, jpeg_idct_7x14},   {6, 12, jpeg_idct_6x12},   {5, 10, jpeg_idct_5x10},
    {4, 8, jpeg_idct_4x8},     {3, 6, jpeg_idct_3x6},     {2, 4, jpeg_idct_2x4},     {1, 2, jpeg_idct_1x2},
};

/* IJG 9's jdmaster.c prepare_range_limit_table: RANGE_CENTER zeros, 0..MAXJSAMPLE, then MAXJSAMPLE. */
static JSAMPLE range_table[RANGE_CENTER * 2 + MAXJSAMPLE + 1];
static struct jpeg_decompress_struct decompress = {range_table + RANGE_CENTER};

void ijg_idct_init(void) {
    for (int i = 0; i < RANGE_CENTER; i++) {
        range_table[i] = 0;
    }
    for (int i = 0; i <= MAXJSAMPLE; i++) {
        range_table[RANGE_CENTER + i] = (JSAMPLE)i;
    }
    for (int i = MAXJSAMPLE + 1; i <= MAXJSAMPLE + RANGE_CENTER; i++) {
        range_table[RANGE_CENTER + i] = MAXJSAMPLE;
    }
}

int ijg_idct_prepare(struct ijg_idct *idct, int h_size, int v_size, const unsigned short quantval[64]) {
    for (int i = 0; i < (int)(sizeof(methods) / sizeof(methods[0])); i++) {
        if (methods[i].h_size == h_size && methods[i].v_size == v_size) {
            idct->method = i;
            for (int k = 0; k < DCTSIZE2; k++) {
                idct->multipliers[k] = (ISLOW_MULT_TYPE)quantval[k];
            }
            return 0;
        }
    }
    return -1;
}

void ijg_idct_row(const struct ijg_idct *idct, const short *blocks, unsigned int count, unsigned char **rows,
                  int h_size) {
    idct_method method = methods[idct->method].method;
    jpeg_component_info component = {(void *)idct->multipliers};
    for (unsigned int b = 0; b < count; b++) {
        method(&decompress, &component, (JCOEFPTR)(blocks + (size_t)b * DCTSIZE2), rows,
               (JDIMENSION)(b * (unsigned int)h_size));
    }
}
