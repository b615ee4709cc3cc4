// image.h: images in (PNG, JPEG, BMP, PGM/PPM, TGA, GIF), resizing, preprocessing into a model's
// input tensor and back to 8-bit RGB for display, and class labels.
//
//   zf_image img = {0};
//   zf_preprocess pp = zf_preprocess_raw();
//   const char *spec = zf_model_meta(&m, ZF_META_PREPROCESS);      // NULL: not a zfviz model
//   if (spec && zf_preprocess_parse(&pp, spec, &err)) return err.code;
//   if (zf_image_load(&img, "cat.jpg", &err)) return err.code;   // "cat.jpg: not an image (...)"
//   zf_tensor x = {0};                                            // (1,3,224,224)
//   if (zf_image_to_tensor(&x, &img, &pp, 3, 224, 224, &err)) return err.code;
//   zf_image_free(&img); ... zf_tensor_free(&x);
//
// Pixel values inside zf_image are floats in 0..1, interleaved (HWC), gray (1 channel) or RGB (3);
// alpha is dropped. A preprocessing spec turns a pixel p into the model's value
//   x[c] = (p[c] * scale - mean[c]) / std[c]
// with c in the model's channel order (BGR when bgr=1, so caffe's mean 104,117,123 is B,G,R).
// Specs are a preset name ("raw", "torchvision", "caffe") or "key=value" items joined by ';'
// ("mean=0.5;std=0.25;scale=1;bgr=0;resize=stretch"), optionally starting with a preset that the
// keys then override ("torchvision;resize=stretch"). The same text is stored in ONNX metadata
// under ZF_META_PREPROCESS by models zfviz writes, so `zfviz run` needs no flags for them.
#ifndef ZF_IMAGE_H
#define ZF_IMAGE_H
#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "tensor.h"

// ONNX metadata_props keys written by zfviz (export, train) and read by run/deconv/occlude/viewer.
#define ZF_META_PREPROCESS "zfviz.preprocess"
#define ZF_META_LABELS "zfviz.labels"          // class names joined by '\n', index order

// Images larger than this on either side are rejected before anything is allocated.
#define ZF_IMAGE_MAX_SIDE 32768
// ... and so are images with more pixels than this (2^28, about 16384 x 16384).
#define ZF_IMAGE_MAX_PIXELS (1LL << 28)

typedef struct zf_image {
    int width, height;
    int channels;        // 1 (gray) or 3 (RGB)
    float *data;         // height*width*channels values in 0..1, row-major, channels interleaved
} zf_image;

// Loads a file; the format is found from its content (TGA, which has no signature, also needs a
// .tga extension). 16-bit PNG/PNM keep their precision. Errors name the file:
// "photo.jpg: not an image (stb_image: unknown image type)", "a.png: truncated or corrupt PNG
// (stb_image: ...)", "big.png: image is 40000 x 20 pixels, larger than 32768 on a side",
// "x.png: cannot open: No such file or directory", "x.png: empty file".
int zf_image_load(zf_image *img, const char *path, zf_error *err);
// Same from memory; `what` names the source in messages (its extension matters only for TGA).
int zf_image_load_buffer(zf_image *img, const uint8_t *buf, size_t len, const char *what, zf_error *err);
// Allocates a zero image (frees img's previous data).
int zf_image_alloc(zf_image *img, int width, int height, int channels, zf_error *err);
void zf_image_free(zf_image *img);

// Resampling with a triangle (bilinear) filter on pixel centers, widened when shrinking so every
// input pixel contributes (PIL's BILINEAR, hence torchvision's Resize on PIL images). When
// enlarging it is plain bilinear interpolation with edge pixels clamped.
// in (H,W,C) -> out (height,width,C)
int zf_image_resize(zf_image *out, const zf_image *in, int width, int height, zf_error *err);
// out = in[y:y+height, x:x+width]; the box must lie inside the image.
int zf_image_crop(zf_image *out, const zf_image *in, int x, int y, int width, int height, zf_error *err);

typedef enum {
    ZF_RESIZE_CROP = 0,     // resize so the image covers the target keeping its aspect, then center
                            // crop (torchvision Resize(shorter side) + CenterCrop)
    ZF_RESIZE_STRETCH = 1,  // resize to the target size, aspect ratio not kept
} zf_resize_mode;

// Geometry of ZF_RESIZE_CROP for an iw x ih image and a tw x th target: the image is resized to
// rw x rh (torchvision's sizes: the matching side exact, the other truncated) and the box
// [x0, x0+tw) x [y0, y0+th) is kept (offsets rounded half to even, like torchvision).
void zf_image_crop_geometry(int *rw, int *rh, int *x0, int *y0, int iw, int ih, int tw, int th);
// Resize (and crop) to width x height with the given mode. Only the kept box is computed.
// in (H,W,C) -> out (height,width,C)
int zf_image_fit(zf_image *out, const zf_image *in, zf_resize_mode mode, int width, int height, zf_error *err);

// --- preprocessing --------------------------------------------------------------------------
typedef struct zf_preprocess {
    float mean[3];      // in the model's channel order, in units of pixel*scale
    float std[3];       // > 0
    float scale;        // > 0; pixels in 0..1 are multiplied by it first (255 for caffe)
    int bgr;            // 1: model channels are B,G,R (ignored for gray models)
    zf_resize_mode resize;
} zf_preprocess;

// "raw": pixels 0..1 (the default when nothing says otherwise).
zf_preprocess zf_preprocess_raw(void);
// Fills pp from a preset name ("raw", "torchvision", "caffe"); nonzero when unknown.
int zf_preprocess_preset(zf_preprocess *pp, const char *name);
// Parses a spec (see the top of this file). Messages do not name the source: the caller prefixes
// ("--preprocess: ..." or "m.onnx: metadata zfviz.preprocess: ...").
int zf_preprocess_parse(zf_preprocess *pp, const char *spec, zf_error *err);
// Parses "a" or "a,b,c" into three values (one value is repeated); for --mean/--std.
int zf_preprocess_parse_triple(float v[3], const char *s, zf_error *err);
// Writes the spec of pp into buf (the preset name when it is one, e.g. "torchvision" or
// "caffe;resize=stretch"); zf_preprocess_parse gives pp back. Returns buf.
const char *zf_preprocess_format(char *buf, size_t n, const zf_preprocess *pp);
// Mean and std actually applied to channel c of a `channels`-channel model (a gray model with a
// three-valued spec uses the luminance-weighted values).
void zf_preprocess_channel(float *mean, float *std, const zf_preprocess *pp, int c, int channels);
// The model-input value that mid-gray (pixel 0.5) maps to in channel c: what occlusion paints.
float zf_preprocess_gray_value(const zf_preprocess *pp, int c, int channels);

// Image -> (1,channels,height,width) model input: fit (pp->resize), convert channels (gray model +
// color image: luminance 0.299 R + 0.587 G + 0.114 B; color model + gray image: replicated), BGR
// swap, scale, mean, std. channels must be 1 or 3. `out` is (re)allocated.
int zf_image_to_tensor(zf_tensor *out, const zf_image *img, const zf_preprocess *pp, int channels, int height,
                       int width, zf_error *err);
// The inverse for display: item n of a (N,C,H,W) input tensor (C 1 or 3) back to pixels 0..1
// (std, mean, scale undone, BGR swapped back, clamped). pp NULL means raw.
int zf_image_from_tensor(zf_image *out, const zf_tensor *t, int64_t n, const zf_preprocess *pp, zf_error *err);
// Interleaved 8-bit RGB (width*height*3 bytes, gray replicated), ready for stb_image_write/SDL.
void zf_image_to_rgb8(uint8_t *rgb, const zf_image *img);

// --- class labels ---------------------------------------------------------------------------
typedef struct zf_labels {
    int n;
    char **names;       // n strings, index = class
} zf_labels;

// One name per line ('\n' or "\r\n"; a final newline adds no empty name). Used for both the
// ZF_META_LABELS metadata value and labels files.
int zf_labels_parse(zf_labels *l, const char *text, size_t len, zf_error *err);
// Reads a labels file; errors name it.
int zf_labels_load(zf_labels *l, const char *path, zf_error *err);
// Name of class k, or NULL when out of range.
const char *zf_labels_get(const zf_labels *l, int64_t k);
void zf_labels_free(zf_labels *l);

#endif
