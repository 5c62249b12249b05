/*
 * vols: the agent's side of volume tasks (attach, detach, volume-delete),
 * run by the task loop's workers (taskloop.c), one task per VM at a time.
 * Files: [agent] volume_dir/VOLUME-UUID.qcow2 (disks.c); device XML:
 * netxml.c. No state of its own.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>

#include "agent.h"
#include "disks.h"
#include "errors.h"
#include "log.h"
#include "netxml.h"
#include "util.h"
#include "virt.h"
#include "vols.h"

/*
 * Attach (add) or detach a volume, idempotently: compare the persistent
 * definition and, when the domain runs, the live one with what is wanted
 * and change only what differs (LIVE and/or CONFIG). A driver without
 * hot-plug (the test driver) gets the persistent definition edited and
 * redefined instead; a running guest then sees the change at its next
 * start.
 */
int
vols_attach(struct agent *a, const struct api_task *t, bool add,
    struct vm_error *err)
{
	struct virt *v = a->virt;
	char *path = NULL, *cfg = NULL, *live = NULL, *disk = NULL;
	char *edited = NULL;
	bool active = false, in_cfg = false, in_live = false;
	unsigned int flags = 0;
	int st, ret = -1;

	path = disks_volume_path(a->conf.volume_dir, t->vol_id);
	if (add && disks_volume_create(path, t->vol_size_gib, err) < 0)
		goto cleanup;
	if (v->ops->vo_state(v, t->vm_id, &st, &active, 0, err) < 0)
		goto cleanup;
	if (st == DOM_ABSENT) {
		vm_error_set(err, API_ENOTFOUND, "domain %s does not exist",
		    t->vm_id);
		goto cleanup;
	}
	if (v->ops->vo_xml(v, t->vm_id, &cfg, VIRT_XML_INACTIVE, err) < 0 ||
	    netxml_disk_present(cfg, path, &in_cfg, err) < 0)
		goto cleanup;
	if (active && (v->ops->vo_xml(v, t->vm_id, &live, 0, err) < 0 ||
	    netxml_disk_present(live, path, &in_live, err) < 0))
		goto cleanup;
	if (in_cfg != add)
		flags |= VIRT_DEV_CONFIG;
	if (active && in_live != add)
		flags |= VIRT_DEV_LIVE;
	if (flags == 0) {
		log_info("vm %s: volume %s already %s", t->vm_name,
		    t->vol_name, add ? "attached" : "detached");
		ret = 0;
		goto cleanup;
	}
	if (netxml_disk_build(path, add ? t->vol_dev : "vdb", &disk,
	    err) < 0)
		goto cleanup;
	if ((add ? v->ops->vo_attach : v->ops->vo_detach)(v, t->vm_id, disk,
	    flags, err) == 0) {
		ret = 0;
		goto cleanup;
	}
	if (err->code != API_EMETHOD)
		goto cleanup;
	log_info("vm %s: %s: no device hot-plug on this driver; %s the "
	    "persistent definition", t->vm_name, err->message,
	    add ? "adding the volume to" : "removing the volume from");
	vm_error_clear(err);
	if (!(flags & VIRT_DEV_CONFIG)) {
		ret = 0;
		goto cleanup;
	}
	if (netxml_disk_edit(cfg, path, t->vol_dev, add, &edited, err) < 0 ||
	    v->ops->vo_define(v, edited, 0, err) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	if (ret == 0)
		log_info("vm %s (%s): volume %s %s %s", t->vm_name, t->vm_id,
		    t->vol_name, add ? "attached as" : "detached from",
		    add ? t->vol_dev : "it");
	free(path);
	free(cfg);
	free(live);
	free(disk);
	free(edited);
	return ret;
}

int
vols_delete(struct agent *a, const struct api_task *t, struct vm_error *err)
{
	char *path = disks_volume_path(a->conf.volume_dir, t->vol_id);
	int ret = disks_volume_remove(path, err);

	if (ret == 0)
		log_info("volume %s: removed %s", t->vol_name, path);
	free(path);
	return ret;
}
