/* The reference decoder for bench/pdq_reference.py: a JPEG decoded by the IJG library (libjpeg 9f) as Pillow
 * linked against it decodes for Meta's reference PDQ pipeline: out_color_space RGB (GRAY for grey files, CMYK for
 * CMYK/YCCK), scale 1/N (Pillow's draft), every other parameter at the library's default.
 * Writes "mode width height adobe\n" and then the raw pixels to stdout.
 *
 * Build it against IJG libjpeg 9f, outside this repository (see docs/hashing.md):
 *   cc -O2 -I$IJG/src bench/ijg_reference_decoder.c $IJG/src/.libs/libjpeg.a -o /tmp/ijg-decode
 * Not part of the platform: only the benchmark runs it, on files it draws itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jpeglib.h"
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  FILE *f = fopen(argv[1], "rb"); if (!f) return 3;
  int scale = atoi(argv[2]);
  struct jpeg_decompress_struct cinfo; struct jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr); jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f); jpeg_read_header(&cinfo, TRUE);
  const char *mode = "RGB";
  if (cinfo.jpeg_color_space == JCS_GRAYSCALE) { cinfo.out_color_space = JCS_GRAYSCALE; mode = "L"; }
  else if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) { cinfo.out_color_space = JCS_CMYK; mode = "CMYK"; }
  else cinfo.out_color_space = JCS_RGB;
  cinfo.scale_num = 1; cinfo.scale_denom = scale;
  jpeg_start_decompress(&cinfo);
  printf("%s %u %u %d\n", mode, cinfo.output_width, cinfo.output_height, cinfo.saw_Adobe_marker);
  int row = cinfo.output_width * cinfo.output_components;
  JSAMPLE *buf = malloc(row);
  while (cinfo.output_scanline < cinfo.output_height) { JSAMPROW r = buf; jpeg_read_scanlines(&cinfo, &r, 1); fwrite(buf, 1, row, stdout); }
  jpeg_finish_decompress(&cinfo); return 0;
}
