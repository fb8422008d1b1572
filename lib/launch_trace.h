/* Optional timing of the launcher's phases, for finding where start-up
 * time goes: `LAYERCTL_TRACE=1 layerctl run ...` prints one line per
 * phase on stderr.  Off (one branch per mark) unless the command turns
 * it on; the processes of the container inherit the setting. */
#ifndef LAYERFS_LAUNCH_TRACE_H
#define LAYERFS_LAUNCH_TRACE_H

/* Write marks to FD from now on (the caller's choice of stream; -1:
 * off), times counted from this call. */
void trace_start(int fd);
/* "layerctl-trace: +MS.mmm WHO PHASE" when tracing, where WHO is the
 * process (caller, holder, pid1...). */
void trace_mark(const char *who, const char *phase);

#endif
