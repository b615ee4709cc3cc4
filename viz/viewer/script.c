// script.c: the viewer's event scripts (`zfviz view --script FILE`), one event per line:
//   key NAME            q, ?, Left, PageDown, shift+Tab, Z (= shift+z) ...
//   click X Y           window coordinates; or click PANE X Y, relative to the top-left corner of the
//                       pane's body (below its title); or click grid #K / click layers #K: the centre
//                       of tile K / layer K (scrolled into view first)
//   move X Y            the mouse moves there (hover); or move PANE X Y, move grid #K
//   wheel [PANE] DY     mouse wheel over a pane (its centre), DY > 0 scrolls up
//   drop PATH           a file dropped on the window
//   wait MS             let MS milliseconds pass (events are still handled)
//   resize W H          the window gets this size
//   screenshot NAME     wait until the worker has caught up, then save SCREENSHOT-DIR/NAME.png
//   sync                wait until the worker has caught up
//   redraw N            draw N frames with nothing changed (to time idle frames)
//   quit                stop here
//   # comment
#include <ctype.h>
#include <errno.h>
#include <SDL.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "internal.h"

static const struct { const char *name; int key; } key_names[] = {
    {"left", SDLK_LEFT}, {"right", SDLK_RIGHT}, {"up", SDLK_UP}, {"down", SDLK_DOWN},
    {"pageup", SDLK_PAGEUP}, {"pgup", SDLK_PAGEUP}, {"pagedown", SDLK_PAGEDOWN}, {"pgdn", SDLK_PAGEDOWN},
    {"home", SDLK_HOME}, {"end", SDLK_END}, {"escape", SDLK_ESCAPE}, {"esc", SDLK_ESCAPE},
    {"tab", SDLK_TAB}, {"return", SDLK_RETURN}, {"enter", SDLK_RETURN}, {"space", SDLK_SPACE},
    {"backspace", SDLK_BACKSPACE}, {"plus", '+'}, {"minus", '-'}, {"f1", SDLK_F1},
};

int zfv_key_parse(int *key, int *shift, const char *name) {
    *key = 0;
    *shift = 0;
    if (!strncasecmp(name, "shift+", 6) && name[6]) {
        *shift = 1;
        name += 6;
    }
    if (name[0] && !name[1]) {
        unsigned char c = (unsigned char)name[0];
        if (c < 33 || c > 126) return 0;
        if (isupper(c)) { *shift = 1; c = (unsigned char)tolower(c); }
        *key = c;
        return 1;
    }
    char low[32];
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < sizeof low; p++)
        if (*p != '_' && *p != ' ' && *p != '-') low[n++] = (char)tolower((unsigned char)*p);
    low[n] = 0;
    for (size_t i = 0; i < sizeof key_names / sizeof *key_names; i++)
        if (!strcmp(low, key_names[i].name)) { *key = key_names[i].key; return 1; }
    return 0;
}

static int parse_int(int *out, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) return 1;
    *out = (int)v;
    return 0;
}

int zfv_script_parse_line(zfv_event *e, const char *line, const char *what, int lineno, zf_error *err) {
    memset(e, 0, sizeof *e);
    e->line = lineno;
    e->pane = -1;
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", line);
    // trim
    char *s = buf;
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    if (!*s || *s == '#') return 0;   // nothing
    char *args = s;
    while (*args && !isspace((unsigned char)*args)) args++;
    if (*args) *args++ = 0;
    while (isspace((unsigned char)*args)) args++;
    char *tok[4] = {0};
    int nt = 0;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s", args);
    for (char *p = strtok(tmp, " \t"); p && nt < 4; p = strtok(NULL, " \t")) tok[nt++] = p;
#define BAD(...) zf_fail(err, ZF_ERR_INPUT, "%s:%d: " __VA_ARGS__)
    if (!strcmp(s, "key")) {
        if (nt != 1 || !zfv_key_parse(&e->key, &e->shift, tok[0]))
            return BAD("'key' expects one key name (q, Left, PageDown, shift+Tab, ?), got '%s'", what, lineno, args);
        e->type = ZFV_EV_KEY;
    } else if (!strcmp(s, "click") || !strcmp(s, "move")) {
        e->type = s[0] == 'c' ? ZFV_EV_CLICK : ZFV_EV_MOVE;
        e->index = -1;
        int k = 0;
        if (nt == 2 && tok[1][0] == '#') {
            e->pane = zfv_pane_parse(tok[0]);
            if (e->pane != ZFV_PANE_GRID && e->pane != ZFV_PANE_LAYERS)
                return BAD("'%s PANE #K' works for the grid and layers panes, got '%s'", what, lineno, s, tok[0]);
            if (parse_int(&e->index, tok[1] + 1, 0, 1 << 30))
                return BAD("'%s %s #K': K must be a non-negative integer, got '%s'", what, lineno, s, tok[0], tok[1]);
            return 0;
        }
        if (nt == 3) {
            if ((e->pane = zfv_pane_parse(tok[0])) < 0)
                return BAD("unknown pane '%s' (input, layers, grid, unit, projection, top5, topk, status)", what, lineno,
                           tok[0]);
            k = 1;
        } else if (nt != 2) {
            return BAD("'%s' expects X Y or PANE X Y", what, lineno, s);
        }
        if (parse_int(&e->x, tok[k], -100000, 100000) || parse_int(&e->y, tok[k + 1], -100000, 100000))
            return BAD("'%s': coordinates must be integers, got '%s'", what, lineno, s, args);
    } else if (!strcmp(s, "wheel")) {
        e->type = ZFV_EV_WHEEL;
        int k = 0;
        if (nt == 2) {
            if ((e->pane = zfv_pane_parse(tok[0])) < 0) return BAD("unknown pane '%s'", what, lineno, tok[0]);
            k = 1;
        } else if (nt != 1) {
            return BAD("'wheel' expects [PANE] DY", what, lineno);
        }
        if (parse_int(&e->y, tok[k], -1000, 1000)) return BAD("'wheel': DY must be an integer", what, lineno);
    } else if (!strcmp(s, "drop")) {
        if (!*args) return BAD("'drop' expects a file path", what, lineno);
        e->type = ZFV_EV_DROP;
        snprintf(e->text, sizeof e->text, "%s", args);
    } else if (!strcmp(s, "wait")) {
        if (nt != 1 || parse_int(&e->ms, tok[0], 0, 600000))
            return BAD("'wait' expects milliseconds 0..600000", what, lineno);
        e->type = ZFV_EV_WAIT;
    } else if (!strcmp(s, "resize")) {
        if (nt != 2 || parse_int(&e->x, tok[0], 1, 16384) || parse_int(&e->y, tok[1], 1, 16384))
            return BAD("'resize' expects W H (1..16384)", what, lineno);
        e->type = ZFV_EV_RESIZE;
    } else if (!strcmp(s, "screenshot")) {
        if (nt != 1) return BAD("'screenshot' expects one NAME", what, lineno);
        for (const char *p = tok[0]; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
                return BAD("screenshot name '%s': use letters, digits, '-', '_' and '.'", what, lineno, tok[0]);
        e->type = ZFV_EV_SCREENSHOT;
        snprintf(e->text, sizeof e->text, "%s", tok[0]);
    } else if (!strcmp(s, "sync")) {
        e->type = ZFV_EV_SYNC;
    } else if (!strcmp(s, "redraw")) {
        if (nt != 1 || parse_int(&e->ms, tok[0], 1, 100000)) return BAD("'redraw' expects a count", what, lineno);
        e->type = ZFV_EV_REDRAW;
    } else if (!strcmp(s, "quit")) {
        e->type = ZFV_EV_QUIT;
    } else {
        return BAD("unknown event '%s' (key, click, move, wheel, drop, wait, resize, screenshot, sync, redraw, "
                   "quit)", what, lineno, s);
    }
#undef BAD
    return 0;
}

int zfv_script_load(zfv_script *s, const char *path, zf_error *err) {
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "r");
    if (!f) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    char line[4200];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) { rc = zf_fail(err, ZF_ERR_INPUT, "%s:%d: line too long", path, lineno); break; }
        zfv_event e;
        if ((rc = zfv_script_parse_line(&e, line, path, lineno, err))) break;
        if (!e.type) continue;
        if (s->n == s->cap) {
            int cap = s->cap ? s->cap * 2 : 32;
            zfv_event *p = realloc(s->ev, (size_t)cap * sizeof *p);
            if (!p) { rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); break; }
            s->ev = p;
            s->cap = cap;
        }
        s->ev[s->n++] = e;
    }
    if (!rc && ferror(f)) rc = zf_fail(err, ZF_ERR_INPUT, "%s: read error", path);
    fclose(f);
    if (rc) zfv_script_free(s);
    return rc;
}

void zfv_script_free(zfv_script *s) {
    free(s->ev);
    memset(s, 0, sizeof *s);
}
