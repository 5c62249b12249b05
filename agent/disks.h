/*
 * disks: the files a VM owns on its host: its qcow2 overlay
 * STATE_DIR/disks/UUID.qcow2 (made with qemu-img on top of a base image)
 * and its console log STATE_DIR/console/UUID.log. Returned paths are
 * owned by the caller (free()). No shared state: calls for different VMs
 * may run in parallel; the caller serializes calls for one VM.
 */
#ifndef VMCTL_AGENT_DISKS_H
#define VMCTL_AGENT_DISKS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

char *disks_overlay_path(const char *state_dir, const char *uuid);
char *disks_console_path(const char *state_dir, const char *uuid);

/*
 * Make the overlay of VM uuid on base unless it exists already: qemu-img
 * create -f qcow2 -F FMT -b BASE, FMT the base's format as recorded
 * ("raw" or "qcow2": qemu-img is never left to guess one), grown to
 * disk_gib when that is larger than the base. Created under a temporary
 * name and renamed, so a crash never leaves a half-made overlay in place.
 * *path_out (may be NULL) receives the overlay path.
 */
int disks_prepare(const char *state_dir, const char *uuid, const char *base,
    const char *fmt, int64_t disk_gib, char **path_out,
    struct vm_error *err);

/* Grow the image at path to disk_gib (qemu-img resize) when its virtual
 * size is smaller; never shrinks. */
int disks_grow(const char *path, int64_t disk_gib, struct vm_error *err);

/* Remove the overlay (and a leftover temporary) and the console log;
 * files already gone are fine. */
int disks_remove(const char *state_dir, const char *uuid,
    struct vm_error *err);

/* Run argv (argv[0] a path) to its end: 0 when it exits 0, else -1 with
 * err naming the step (the tool's output goes to the agent's log only,
 * never into err: it may name host files). */
int disks_tool(const char *step, char *const argv[], struct vm_error *err);

/*
 * The format of the base image at path by its content (api_img_probe):
 * "raw" or "qcow2" into fmt. -1 + err for other formats, a qcow2 naming
 * other files, or content that is not the recorded format (recorded: the
 * image store's record, or NULL/"" for a host path).
 */
int disks_base_format(const char *path, const char *recorded, char *fmt,
    size_t fmtsize, struct vm_error *err);

/*
 * A host path of a VM's image (what: "disk", "kernel", "initrd"): allowed
 * only as a regular file inside dir (agent.image_dir; "" refuses every
 * path), after resolving every symlink and "..". *resolved (caller frees)
 * is the path to use. -1 + err (a message without the tool's or the
 * system's details, which go to the log).
 */
int disks_host_path(const char *dir, const char *what, const char *path,
    char **resolved, struct vm_error *err);

/* A volume's file: VOLUME_DIR/VOL_ID.qcow2 (caller frees). */
char *disks_volume_path(const char *volume_dir, const char *vol_id);
/* Make the volume's qcow2 file of size_gib unless it exists (temporary
 * name + rename, like disks_prepare). */
int disks_volume_create(const char *path, int64_t size_gib,
    struct vm_error *err);
/* Remove it (and a leftover temporary); already gone is fine. */
int disks_volume_remove(const char *path, struct vm_error *err);

#endif
