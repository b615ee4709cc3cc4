// projection.h: the pictures of a projection (core/project.h) that `zfviz deconv`, reports and the
// viewer share: the paper's rendering (signed values around mid-gray), optionally cropped to the
// unit's box beside the matching image patch, or a heatmap over the input image.
//
//   zf_projection_picture pp = zf_projection_picture_defaults();
//   pp.image = &display;                               // the input as 0..1 pixels (optional)
//   pp.crop = 1; memcpy(pp.box, info.box, sizeof pp.box);
//   zf_canvas pic = {0};
//   if (zf_render_projection_picture(&pic, zf_f32(&proj), 3, 224, 224, &pp, &err)) return err.code;
//   zf_png_write("conv5-12.png", &pic, &err); zf_canvas_free(&pic);
//
// Heatmaps reduce the channels to one map: with a diverging colormap the signed sum over channels
// (symmetric range, zero in the middle), otherwise the largest |value| over channels (the usual
// saliency map, Simonyan et al. 2014).
#ifndef ZF_VIZ_PROJECTION_H
#define ZF_VIZ_PROJECTION_H
#include <stdint.h>
#include "canvas.h"
#include "colormap.h"
#include "core/image.h"

typedef struct zf_projection_picture {
    int heatmap;              // 0: the paper's rendering; 1: heatmap through cmap
    zf_colormap cmap;
    float alpha;              // heatmap opacity over the image (0: 0.5; 1: no image shown)
    const zf_image *image;    // the input as display pixels (HWC, 0..1), same H x W as the map; NULL: none
    int crop;                 // show only box (and, in the paper's style, the image patch beside it)
    int64_t box[2][2];        // [y0, y1), [x0, x1) in input pixels (zf_project_info.box)
    int zoom;                 // output pixels per input pixel (>= 1)
    zf_filter filter;
    float range;              // > 0: this |value| maps to full contrast (shared scale); 0: the picture's own
    int bgr;                  // the projection's channels are B,G,R
    int gap;                  // pixels between projection and patch (default 4)
} zf_projection_picture;

zf_projection_picture zf_projection_picture_defaults(void);   // paper style, zoom 1, bilinear, gap 4

// proj (C,H,W), C 1 or 3 -> out (allocated): W*zoom x H*zoom, or the box's size times zoom (twice,
// plus the gap, when the patch is shown beside it).
int zf_render_projection_picture(zf_canvas *out, const float *proj, int C, int H, int W,
                                 const zf_projection_picture *o, zf_error *err);

#endif
