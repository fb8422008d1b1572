/* What `dedupe` and `import --dedupe` print after a dedupe run. */
#ifndef LAYERCTL_DEDUPE_CLI_H
#define LAYERCTL_DEDUPE_CLI_H

#include "dedupe.h"

void dedupe_print_summary(const struct dedupe_opts *o, const struct dedupe_stats *st);
/* Warnings on stderr: extents the filesystem refused, hash collisions,
 * files that changed meanwhile. */
void dedupe_warn(const struct dedupe_stats *st, const char *root);

#endif
