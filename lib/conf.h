/*
 * conf: table-driven INI configuration on inih. A daemon describes its
 * settings once (section, key, type, bounds, default, offset into its
 * config struct) and gets defaults, parsing with "file:line: reason"
 * errors, and printing (for -n) from that one table.
 * Strings are fixed-size arrays inside the caller's struct: no ownership.
 */
#ifndef VMCTL_LIB_CONF_H
#define VMCTL_LIB_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

enum conf_type { CONF_STR, CONF_INT, CONF_BOOL, CONF_ENUM, CONF_DOUBLE };

struct conf_item {
	const char *section;
	const char *key;
	enum conf_type type;
	size_t off;		/* offset in the config struct */
	size_t size;		/* CONF_STR: array size */
	int64_t min, max;	/* CONF_INT bounds */
	const char *def;	/* default, as text */
	const char *const *enums; /* CONF_ENUM: NULL-terminated names */
	int secret;		/* conf_print shows "(set)" instead */
};

#define CONF_ITEM_STR(s, k, type_, field, def_) \
	{ s, k, CONF_STR, offsetof(type_, field), \
	  sizeof(((type_ *)0)->field), 0, 0, def_, NULL, 0 }
#define CONF_ITEM_SECRET(s, k, type_, field) \
	{ s, k, CONF_STR, offsetof(type_, field), \
	  sizeof(((type_ *)0)->field), 0, 0, "", NULL, 1 }
#define CONF_ITEM_INT(s, k, type_, field, mn, mx, def_) \
	{ s, k, CONF_INT, offsetof(type_, field), sizeof(int64_t), \
	  mn, mx, def_, NULL, 0 }
/* A double in [mn, mx] (integer bounds). */
#define CONF_ITEM_DOUBLE(s, k, type_, field, mn, mx, def_) \
	{ s, k, CONF_DOUBLE, offsetof(type_, field), sizeof(double), \
	  mn, mx, def_, NULL, 0 }
#define CONF_ITEM_BOOL(s, k, type_, field, def_) \
	{ s, k, CONF_BOOL, offsetof(type_, field), sizeof(int), 0, 1, def_, \
	  NULL, 0 }
#define CONF_ITEM_ENUM(s, k, type_, field, names, def_) \
	{ s, k, CONF_ENUM, offsetof(type_, field), sizeof(int), 0, 0, def_, \
	  names, 0 }

/* Apply every default. Returns -1 only on a bad table (a bug). */
int conf_defaults(const struct conf_item *items, size_t n, void *cfg);
/* Parse path into cfg (defaults must be applied first). */
int conf_load(const char *path, const struct conf_item *items, size_t n,
    void *cfg, struct vm_error *err);
/* Set one item by "section.key" (for command-line overrides). */
int conf_set(const struct conf_item *items, size_t n, void *cfg,
    const char *section, const char *key, const char *value,
    struct vm_error *err);
/* Print the effective configuration in INI form. */
void conf_print(FILE *fp, const struct conf_item *items, size_t n,
    const void *cfg);

#endif
