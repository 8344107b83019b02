/*
 * IJG libjpeg 9f's integer inverse DCTs (jidctint.c, fetched at build time by scripts/fetch-ijg-idct.sh), behind
 * an interface that uses no IJG types, so that detection/_jpegdct.c can include the system <jpeglib.h>.
 * Implemented in detection/ijg_idct.c.
 */
#ifndef PDQ_IJG_IDCT_H
#define PDQ_IJG_IDCT_H

/* One component's inverse DCT, as IJG 9's jddctmgr.c sets it up for JDCT_ISLOW. */
struct ijg_idct {
    int method;           /* index into the table of IJG's functions */
    int multipliers[64];  /* ISLOW_MULT_TYPE table: the quantisation table, natural order */
};

/* Fills the range-limit table once (idempotent, call before any ijg_idct_row). */
void ijg_idct_init(void);

/* Chooses IJG's function for an h_size x v_size output block (the DCT_h/v_scaled_size pair) and copies the
 * quantisation table. Returns 0, or -1 where IJG 9f has no such inverse DCT. */
int ijg_idct_prepare(struct ijg_idct *idct, int h_size, int v_size, const unsigned short quantval[64]);

/* Decodes `count` consecutive 64-coefficient blocks into rows[0 .. v_size-1], starting at column 0. */
void ijg_idct_row(const struct ijg_idct *idct, const short *blocks, unsigned int count, unsigned char **rows,
                  int h_size);

#endif
