#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

struct conf_ctx {
	const struct conf_item *items;
	size_t n;
	void *cfg;
	struct vm_error *err;
	const char *path;
	int line;
	int failed;
};

static int
conf_apply(const struct conf_item *it, void *cfg, const char *value,
    char *why, size_t whylen)
{
	char *base = cfg;

	switch (it->type) {
	case CONF_STR:
		if (str_copy(base + it->off, it->size, value) < 0) {
			snprintf(why, whylen, "value longer than %zu characters",
			    it->size - 1);
			return -1;
		}
		return 0;
	case CONF_INT: {
		char *end = NULL;
		long long v;

		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0') {
			snprintf(why, whylen, "'%s' is not an integer", value);
			return -1;
		}
		if (v < it->min || v > it->max) {
			snprintf(why, whylen, "%lld is out of range %lld..%lld",
			    v, (long long)it->min, (long long)it->max);
			return -1;
		}
		*(int64_t *)(void *)(base + it->off) = v;
		return 0;
	}
	case CONF_DOUBLE: {
		char *end = NULL;
		double v;

		errno = 0;
		v = strtod(value, &end);
		if (errno != 0 || end == value || *end != '\0' || v != v) {
			snprintf(why, whylen, "'%s' is not a number", value);
			return -1;
		}
		if (v < (double)it->min || v > (double)it->max) {
			snprintf(why, whylen, "%g is out of range %lld..%lld",
			    v, (long long)it->min, (long long)it->max);
			return -1;
		}
		*(double *)(void *)(base + it->off) = v;
		return 0;
	}
	case CONF_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
		    strcmp(value, "1") == 0) {
			*(int *)(void *)(base + it->off) = 1;
		} else if (strcmp(value, "false") == 0 ||
		    strcmp(value, "no") == 0 || strcmp(value, "0") == 0) {
			*(int *)(void *)(base + it->off) = 0;
		} else {
			snprintf(why, whylen,
			    "'%s' is not a boolean (true or false)", value);
			return -1;
		}
		return 0;
	case CONF_ENUM: {
		int i;

		for (i = 0; it->enums[i] != NULL; i++) {
			if (strcmp(it->enums[i], value) == 0) {
				*(int *)(void *)(base + it->off) = i;
				return 0;
			}
		}
		snprintf(why, whylen, "'%s' is not one of:", value);
		for (i = 0; it->enums[i] != NULL; i++) {
			size_t l = strlen(why);

			snprintf(why + l, whylen - l, " %s", it->enums[i]);
		}
		return -1;
	}
	}
	snprintf(why, whylen, "bad config table");
	return -1;
}

static const struct conf_item *
conf_find(const struct conf_item *items, size_t n, const char *section,
    const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(items[i].section, section) == 0 &&
		    strcmp(items[i].key, key) == 0)
			return &items[i];
	return NULL;
}

int
conf_defaults(const struct conf_item *items, size_t n, void *cfg)
{
	char why[256];
	size_t i;

	for (i = 0; i < n; i++)
		if (conf_apply(&items[i], cfg, items[i].def, why,
		    sizeof(why)) < 0)
			return -1;
	return 0;
}

static int
conf_handler(void *user, const char *section, const char *key,
    const char *value
#if INI_HANDLER_LINENO
    , int lineno
#endif
    )
{
	struct conf_ctx *c = user;
	const struct conf_item *it;
	char why[300];

#if INI_HANDLER_LINENO
	c->line = lineno;
#endif
	if (c->failed)
		return 0;
	it = conf_find(c->items, c->n, section, key);
	if (it == NULL) {
		vm_error_set(c->err, 1, "unknown setting '%s' in section [%s]",
		    key, section);
		c->failed = 1;
		return 0;
	}
	if (conf_apply(it, c->cfg, value, why, sizeof(why)) < 0) {
		vm_error_set(c->err, 1, "%s.%s: %s", section, key, why);
		c->failed = 1;
		return 0;
	}
	return 1;
}

int
conf_load(const char *path, const struct conf_item *items, size_t n,
    void *cfg, struct vm_error *err)
{
	struct conf_ctx c = { items, n, cfg, err, path, 0, 0 };
	int rc;

	/* Debian's libinih exposes these at run time: stop at the first
	 * error so line and reason agree, and take long lines (paths). */
	ini_stop_on_first_error = 1;
	ini_allow_multiline = 0;	/* an indented line is a new line */
	ini_use_stack = 0;
	ini_allow_realloc = 1;
	ini_max_line = 8192;
	ini_initial_alloc = 256;

	rc = ini_parse(path, conf_handler, &c);
	if (rc == -1) {
		vm_error_set(err, 1, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	if (rc != 0) {
		if (c.failed) {
			char msg[sizeof(err->message)];

			memcpy(msg, err->message, sizeof(msg));
			vm_error_set(err, 1, "%s:%d: %s", path, rc, msg);
		} else {
			vm_error_set(err, 1, "%s:%d: syntax error", path, rc);
		}
		return -1;
	}
	return 0;
}

int
conf_set(const struct conf_item *items, size_t n, void *cfg,
    const char *section, const char *key, const char *value,
    struct vm_error *err)
{
	const struct conf_item *it = conf_find(items, n, section, key);
	char why[300];

	if (it == NULL) {
		vm_error_set(err, 1, "unknown setting %s.%s", section, key);
		return -1;
	}
	if (conf_apply(it, cfg, value, why, sizeof(why)) < 0) {
		vm_error_set(err, 1, "%s.%s: %s", section, key, why);
		return -1;
	}
	return 0;
}

void
conf_print(FILE *fp, const struct conf_item *items, size_t n, const void *cfg)
{
	const char *base = cfg, *section = "";
	size_t i;

	for (i = 0; i < n; i++) {
		const struct conf_item *it = &items[i];
		const void *p = base + it->off;

		if (strcmp(section, it->section) != 0) {
			fprintf(fp, "%s[%s]\n", i ? "\n" : "", it->section);
			section = it->section;
		}
		switch (it->type) {
		case CONF_STR:
			fprintf(fp, "%s = %s\n", it->key, it->secret &&
			    *(const char *)p ? "(set, not shown)" :
			    (const char *)p);
			break;
		case CONF_INT:
			fprintf(fp, "%s = %lld\n", it->key,
			    (long long)*(const int64_t *)p);
			break;
		case CONF_BOOL:
			fprintf(fp, "%s = %s\n", it->key,
			    *(const int *)p ? "true" : "false");
			break;
		case CONF_ENUM:
			fprintf(fp, "%s = %s\n", it->key,
			    it->enums[*(const int *)p]);
			break;
		case CONF_DOUBLE:
			fprintf(fp, "%s = %g\n", it->key, *(const double *)p);
			break;
		}
	}
}
