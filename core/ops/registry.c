// registry.c: the table of every supported op. Only ever appended to; ZF_OP_COUNT guards it.
#include <stdio.h>
#include <string.h>
#include "op.h"
#include "registry.h"

const zf_op *const zf_ops[ZF_OP_COUNT] = {
#define X(sym, type) &sym,
    ZF_OP_LIST(X)
#undef X
};
_Static_assert(sizeof zf_ops / sizeof zf_ops[0] == ZF_OP_COUNT, "zf_ops must list every op");

const zf_op *zf_op_find(const char *type) {
    for (int i = 0; i < ZF_OP_COUNT; i++)
        if (zf_ops[i] && !strcmp(zf_ops[i]->type, type)) return zf_ops[i];
    return NULL;
}

const char *zf_op_supported_list(void) {
    static char buf[1024];   // written once, same content every call
    if (!buf[0]) {
        size_t k = 0;
        for (int i = 0; i < ZF_OP_COUNT; i++) {
            if (!zf_ops[i]) continue;
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", k ? ", " : "", zf_ops[i]->type);
            if (k >= sizeof buf) break;
        }
        if (k < sizeof buf) snprintf(buf + k, sizeof buf - k, ", If (constant condition)");
    }
    return buf;
}
