/*
 * disks: the files a VM owns on its host: its qcow2 overlay
 * STATE_DIR/disks/UUID.qcow2 (made with qemu-img on top of a base image)
 * and its console log STATE_DIR/console/UUID.log. Returned paths are
 * owned by the caller (free()). No shared state: calls for different VMs
 * may run in parallel; the caller serializes calls for one VM.
 */
#ifndef VMCTL_AGENT_DISKS_H
#define VMCTL_AGENT_DISKS_H

#include <stdint.h>

#include "error.h"

char *disks_overlay_path(const char *state_dir, const char *uuid);
char *disks_console_path(const char *state_dir, const char *uuid);

/*
 * Make the overlay of VM uuid on base unless it exists already: qemu-img
 * create -f qcow2 -F FMT -b BASE, FMT read with qemu-img info, grown to
 * disk_gib when that is larger than the base. Created under a temporary
 * name and renamed, so a crash never leaves a half-made overlay in place.
 * *path_out (may be NULL) receives the overlay path.
 */
int disks_prepare(const char *state_dir, const char *uuid, const char *base,
    int64_t disk_gib, char **path_out, struct vm_error *err);

/* Grow the image at path to disk_gib (qemu-img resize) when its virtual
 * size is smaller; never shrinks. */
int disks_grow(const char *path, int64_t disk_gib, struct vm_error *err);

/* Remove the overlay (and a leftover temporary) and the console log;
 * files already gone are fine. */
int disks_remove(const char *state_dir, const char *uuid,
    struct vm_error *err);

/* Run argv (argv[0] a path) to its end: 0 when it exits 0, else -1 with
 * err holding its first line of stderr. */
int disks_tool(char *const argv[], struct vm_error *err);

/* A volume's file: VOLUME_DIR/VOL_ID.qcow2 (caller frees). */
char *disks_volume_path(const char *volume_dir, const char *vol_id);
/* Make the volume's qcow2 file of size_gib unless it exists (temporary
 * name + rename, like disks_prepare). */
int disks_volume_create(const char *path, int64_t size_gib,
    struct vm_error *err);
/* Remove it (and a leftover temporary); already gone is fine. */
int disks_volume_remove(const char *path, struct vm_error *err);

#endif
