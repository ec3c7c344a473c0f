/* A refq `cmd:` backend: QuantizeLinear per tensor to int8/uint8 as the ONNX text says,
   y = clamp(nearbyint(x / scale) + zero_point), x / scale in float32, ties to even.
   Build: gcc -O2 -o quantize_backend quantize_backend.c -lm
   Run:   refq conform --backend "cmd:./quantize_backend" --profile onnx --ops quantize_linear */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *dir, const char *name) {  /* a whole file, NUL-terminated */
  char path[4096]; snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb"); if (!f) return NULL;
  fseek(f, 0, SEEK_END); long size = ftell(f); rewind(f);
  char *data = calloc(size + 1, 1); if (fread(data, 1, size, f) != (size_t)size) data = NULL; fclose(f);
  return data;
}

/* A version-1 .npy file of dtype `descr`, C order: its data, element count and shape text "(...)". */
static void *npy(const char *dir, const char *name, const char *descr, long *count, char *shape) {
  char *file = slurp(dir, name);
  if (!file || memcmp(file, "\x93NUMPY\x01", 7)) return NULL;
  int header = (unsigned char)file[8] | (unsigned char)file[9] << 8;
  char *data = file + 10 + header; data[-1] = 0;  /* the header's final '\n' ends its text */
  if (!strstr(file + 10, descr) || strstr(file + 10, "True")) return NULL;
  char *open = strchr(strstr(file + 10, "'shape'"), '('), *close = strchr(open, ')');
  *count = 1;
  for (char *p = open; p < close; p++) if (*p >= '0' && *p <= '9') *count *= strtol(p, &p, 10);
  snprintf(shape, 256, "%.*s", (int)(close - open + 1), open);
  return data;
}

int main(int argc, char **argv) {
  char shape[256], ignored[256], path[4096]; long n, ns, nz;
  char *json = argc == 2 ? slurp(argv[1], "case.json") : NULL;
  if (!json || !strstr(json, "\"op\": \"quantize_linear\"")) return 3;
  char *dtype = strstr(json, "\"dtype\": \"") + 10;  /* the first "dtype" key is the attribute */
  int is_signed = !strncmp(dtype, "int8\"", 5);
  if (!is_signed && strncmp(dtype, "uint8\"", 6)) return 3;
  float *x = npy(argv[1], "x.npy", "'<f4'", &n, shape), *scale = npy(argv[1], "scale.npy", "'<f4'", &ns, ignored);
  if (!x || !scale || ns != 1) return 3;  /* per tensor only */
  if (!(*scale > 0 && isfinite(*scale))) { fprintf(stderr, "scale must be finite and > 0\n"); return 1; }
  int zero_point = 0;
  if (strstr(json, "\"zero_point\": {")) {
    char *z = npy(argv[1], "zero_point.npy", is_signed ? "'|i1'" : "'|u1'", &nz, ignored);
    if (!z || nz != 1) return 3;
    zero_point = is_signed ? *(signed char *)z : *(unsigned char *)z;
  }
  float low = is_signed ? -128 : 0, high = is_signed ? 127 : 255;
  char header[256]; int length = snprintf(header, 200, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                                          is_signed ? "|i1" : "|u1", shape);
  while ((10 + length + 1) % 64) header[length++] = ' ';  /* pad so the data starts 64-byte aligned */
  header[length++] = '\n';
  snprintf(path, sizeof path, "%s/output.npy", argv[1]);
  FILE *out = fopen(path, "wb"); if (!out) return 1;
  fwrite("\x93NUMPY\x01\x00", 1, 8, out); fputc(length & 255, out); fputc(length >> 8, out);
  fwrite(header, 1, length, out);
  for (long i = 0; i < n; i++) {
    float v = nearbyintf(x[i] / *scale) + zero_point;  /* float32 division, ties to even */
    v = isnan(v) ? low : v < low ? low : v > high ? high : v;  /* NaN: the ONNX text leaves it open */
    fputc((int)v & 255, out);
  }
  return fclose(out) ? 1 : 0;
}
