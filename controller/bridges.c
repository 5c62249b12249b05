/*
 * bridges: parse and query the bridge allow-list (bridges.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridges.h"
#include "errors.h"
#include "util.h"

static bool
site_seen(const struct bridges *b, const char *site)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (strcmp(b->b[i].site, site) == 0)
			return true;
	return false;
}

int
bridges_parse(const char *spec, struct bridges *out, struct vm_error *err)
{
	char *copy = NULL, *save = NULL, *ent, *colon, *br, *bsave = NULL;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (strlen(spec) >= BRIDGES_SPEC_MAX) {
		vm_error_set(err, API_EINVAL, "longer than %d characters",
		    BRIDGES_SPEC_MAX - 1);
		goto cleanup;
	}
	copy = xstrdup(spec);
	for (ent = strtok_r(copy, " \t", &save); ent != NULL;
	    ent = strtok_r(NULL, " \t", &save)) {
		colon = strchr(ent, ':');
		if (colon == NULL || colon == ent || colon[1] == '\0') {
			vm_error_set(err, API_EINVAL, "'%.64s': expected "
			    "SITE:BRIDGE[,BRIDGE...]", ent);
			goto cleanup;
		}
		*colon = '\0';
		if (!api_name_valid(ent)) {
			vm_error_set(err, API_EINVAL, "'%.64s' is not a valid "
			    "site name", ent);
			goto cleanup;
		}
		if (site_seen(out, ent)) {
			vm_error_set(err, API_EINVAL, "site %s is listed twice",
			    ent);
			goto cleanup;
		}
		br = colon + 1;
		if (br[0] == ',' || br[strlen(br) - 1] == ',' ||
		    strstr(br, ",,") != NULL) {
			vm_error_set(err, API_EINVAL, "site %s: an empty "
			    "bridge name", ent);
			goto cleanup;
		}
		for (br = strtok_r(br, ",", &bsave); br != NULL;
		    br = strtok_r(NULL, ",", &bsave)) {
			if (!api_bridge_valid(br)) {
				vm_error_set(err, API_EINVAL, "site %s: "
				    "'%.64s' is not a valid bridge name "
				    "(1-15 of A-Z a-z 0-9 _ . -)", ent, br);
				goto cleanup;
			}
			if (bridges_allowed(out, ent, br))
				continue;
			if (out->n == BRIDGES_MAX) {
				vm_error_set(err, API_EINVAL, "more than %d "
				    "bridges", BRIDGES_MAX);
				goto cleanup;
			}
			str_copy(out->b[out->n].site, sizeof(out->b[0].site),
			    ent);
			str_copy(out->b[out->n].bridge,
			    sizeof(out->b[0].bridge), br);
			out->n++;
		}
	}
	ret = 0;
cleanup:
	if (ret < 0)
		memset(out, 0, sizeof(*out));
	free(copy);
	return ret;
}

bool
bridges_allowed(const struct bridges *b, const char *site,
    const char *bridge)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if ((site == NULL || strcmp(b->b[i].site, site) == 0) &&
		    strcmp(b->b[i].bridge, bridge) == 0)
			return true;
	return false;
}

void
bridges_format(const struct bridges *b, const char *site, char *buf,
    size_t size)
{
	struct buf out = { NULL, 0, 0 };
	size_t i;

	for (i = 0; i < b->n; i++) {
		bool first = i == 0 ||
		    strcmp(b->b[i - 1].site, b->b[i].site) != 0;

		if (site != NULL && strcmp(b->b[i].site, site) != 0)
			continue;
		if (first)
			buf_printf(&out, "%s%s: %s", out.len > 0 ? "; " : "",
			    b->b[i].site, b->b[i].bridge);
		else
			buf_printf(&out, ", %s", b->b[i].bridge);
	}
	str_copy(buf, size, out.len > 0 ? out.data : "none");
	buf_free(&out);
}
