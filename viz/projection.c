// projection.c: pictures of projections (see projection.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "projection.h"
#include "render.h"

zf_projection_picture zf_projection_picture_defaults(void) {
    zf_projection_picture o;
    memset(&o, 0, sizeof o);
    o.cmap = ZF_CMAP_COOLWARM;
    o.zoom = 1;
    o.filter = ZF_FILTER_BILINEAR;
    o.gap = 4;
    return o;
}

// The box shown: the whole map, or o->box clipped (at least one pixel).
static void shown_box(int *x, int *y, int *w, int *h, int H, int W, const zf_projection_picture *o) {
    *x = 0, *y = 0, *w = W, *h = H;
    if (!o->crop) return;
    int64_t y0 = o->box[0][0], y1 = o->box[0][1], x0 = o->box[1][0], x1 = o->box[1][1];
    if (y0 < 0) y0 = 0;
    if (x0 < 0) x0 = 0;
    if (y1 > H) y1 = H;
    if (x1 > W) x1 = W;
    if (y1 <= y0 || x1 <= x0) return;   // empty box (nothing projected): show everything
    *x = (int)x0, *y = (int)y0, *w = (int)(x1 - x0), *h = (int)(y1 - y0);
}

int zf_render_projection_picture(zf_canvas *out, const float *proj, int C, int H, int W,
                                 const zf_projection_picture *o, zf_error *err) {
    zf_projection_picture dflt = zf_projection_picture_defaults();
    if (!o) o = &dflt;
    if (C != 1 && C != 3) return zf_fail(err, ZF_ERR_INPUT, "projection has %d channels (1 or 3 can be shown)", C);
    if (H < 1 || W < 1) return zf_fail(err, ZF_ERR_INPUT, "empty projection");
    if (o->image && (o->image->width != W || o->image->height != H))
        return zf_fail(err, ZF_ERR_INPUT, "image is %dx%d but the projection %dx%d", o->image->width,
                       o->image->height, W, H);
    int zoom = o->zoom > 0 ? o->zoom : 1, gap = o->gap > 0 ? o->gap : 0;
    int bx, by, bw, bh;
    shown_box(&bx, &by, &bw, &bh, H, W, o);
    long long pw = (long long)bw * zoom, ph = (long long)bh * zoom;
    int beside = !o->heatmap && o->crop && o->image;
    long long total_w = beside ? 2 * pw + gap : pw;
    if (total_w > ZF_CANVAS_MAX_SIDE || ph > ZF_CANVAS_MAX_SIDE)
        return zf_fail(err, ZF_ERR_INPUT, "picture of %lldx%lld pixels is too large (lower the zoom)", total_w, ph);
    int rc = zf_canvas_alloc(out, (int)total_w, (int)ph, err);
    if (rc) return rc;
    zf_canvas_fill(out, ZF_RGB(255, 255, 255));
    zf_canvas pic = zf_canvas_view(out, 0, 0, (int)pw, (int)ph);
    zf_canvas img = {0}, patch = {0};
    zf_image crop = {0};
    float *map = NULL;
    if (o->image) {
        const zf_image *src = o->image;
        if (o->crop) {
            if ((rc = zf_image_crop(&crop, o->image, bx, by, bw, bh, err))) goto done;
            src = &crop;
        }
        if ((rc = zf_canvas_from_image(&img, src, err))) goto done;
    }
    if (!o->heatmap) {
        zf_projection_options po = {.crop_x = bx, .crop_y = by, .crop_w = bw, .crop_h = bh, .bgr = o->bgr,
                                    .scale = o->range, .filter = o->filter};
        if ((rc = zf_render_projection(&pic, proj, C, H, W, &po, err))) goto done;
        if (beside) {
            patch = zf_canvas_view(out, (int)pw + gap, 0, (int)pw, (int)ph);
            zf_canvas_blit(&patch, 0, 0, (int)pw, (int)ph, &img, o->filter, 1.0f);
        }
        goto done;
    }
    // Heatmap: one value per pixel of the box.
    int div = zf_colormap_is_diverging(o->cmap);
    if (!(map = malloc((size_t)bw * (size_t)bh * sizeof *map))) {
        rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++) {
            float s = 0.0f;
            for (int c = 0; c < C; c++) {
                float v = proj[((size_t)c * H + by + y) * W + bx + x];
                s = div ? s + v : fabsf(v) > s ? fabsf(v) : s;
            }
            map[(size_t)y * bw + x] = s;
        }
    zf_heatmap_options ho = {.cmap = o->cmap, .symmetric = div, .map_filter = o->filter, .image_filter = o->filter};
    if (o->range > 0) {
        ho.lo = div ? -o->range : 0.0f;
        ho.hi = o->range;
    }
    if (o->image && !(o->alpha >= 1.0f)) {
        ho.image = &img;
        ho.alpha = o->alpha > 0 ? o->alpha : 0.5f;
    }
    rc = zf_render_heatmap(&pic, map, bh, bw, &ho, err);
done:
    free(map);
    zf_image_free(&crop);
    zf_canvas_free(&img);
    if (rc) zf_canvas_free(out);
    return rc;
}
