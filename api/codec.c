#include "config.h"

#include <errno.h>
#include <string.h>

#include "codec.h"
#include "errors.h"
#include "json.h"
#include "util.h"

bool
api_name_valid(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > API_NAME_MAX - 1)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (c == '-' && i > 0)
			continue;
		return false;
	}
	return true;
}

bool
api_path_valid(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n < 2 || n >= API_PATH_MAX || s[0] != '/')
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-' || c == '+' || c == '/'))
			return false;
	}
	if (strstr(s, "/../") != NULL || strstr(s, "/./") != NULL ||
	    strstr(s, "//") != NULL)
		return false;
	if (n >= 3 && strcmp(s + n - 3, "/..") == 0)
		return false;
	if (n >= 2 && strcmp(s + n - 2, "/.") == 0)
		return false;
	return true;
}

bool
api_labels_valid(const char *s)
{
	char tok[API_NAME_MAX];

	while (*s != '\0') {
		size_t n;

		while (*s == ' ')
			s++;
		n = strcspn(s, ", ");
		if (n == 0 || n >= sizeof(tok))
			return false;
		memcpy(tok, s, n);
		tok[n] = '\0';
		if (!api_name_valid(tok))
			return false;
		s += n;
		while (*s == ' ')
			s++;
		if (*s == ',') {
			s++;
			if (*s == '\0')
				return false;
		} else if (*s != '\0') {
			return false;
		}
	}
	return true;
}

int
api_enum_index(const char *const *names, const char *s)
{
	int i;

	if (names == NULL || s == NULL)
		return -1;	/* e.g. json_get_str of a string with a NUL */
	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

size_t
api_utf8_len(const unsigned char *p)
{
	/* p is NUL-terminated: a sequence is never longer than what is
	 * left before the NUL. */
	if (p[0] < 0x80)
		return 1;
	return utf8_seq_len(p, strnlen((const char *)p, 4));
}

/*
 * The one text class of the API (AF_STR, AF_TEXT): no C0 control but tab
 * (and LF, CR with API_TEXT_LINES), no DEL; with API_TEXT_STRICT (every
 * client input) also well-formed UTF-8 only and no C1 control
 * (U+0080..U+009F: U+009B is an 8-bit CSI and U+0085 a line end on
 * terminals that honour them). Stored records keep the older, wider
 * class so a store written before this rule still reads; vmctl escapes
 * what it prints (cli/output.c).
 */
bool
api_text_valid(const char *s, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		size_t n = 1;

		if ((*p < 0x20 && *p != '\t' && (!(flags & API_TEXT_LINES) ||
		    (*p != '\n' && *p != '\r'))) || *p == 0x7f)
			return false;
		if ((flags & API_TEXT_STRICT) && *p >= 0x80) {
			n = api_utf8_len(p);
			if (n == 0 || (p[0] == 0xc2 && p[1] <= 0x9f))
				return false;
		}
		p += n;
	}
	return true;
}

void
api_text_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p != '\0') {
		size_t n = api_utf8_len(p);

		if (n == 2 && p[0] == 0xc2 && p[1] <= 0x9f) {
			p[0] = p[1] = ' ';
		} else if (n == 0 || *p < 0x20 || *p == 0x7f) {
			*p = ' ';
			n = 1;
		}
		p += n;
	}
}

static bool
mem_is_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != 0)
			return false;
	return true;
}

json_object *
api_encode(const struct api_schema *s, const void *obj)
{
	json_object *o = json_object_new_object();
	const char *base = obj;
	size_t i;

	for (i = 0; i < s->nfields; i++) {
		const struct api_field *f = &s->fields[i];
		const void *p = base + f->off;
		json_object *v = NULL;

		switch (f->type) {
		case AF_STR:
		case AF_NAME:
		case AF_UUID:
		case AF_PATH:
		case AF_TEXT:
			if (*(const char *)p != '\0')
				v = json_object_new_string(p);
			break;
		case AF_INT: {
			int64_t n = *(const int64_t *)p;

			/* 0 outside the bounds is an optional field unset. */
			if (n != 0 || (f->min <= 0 && f->max >= 0))
				v = json_object_new_int64(n);
			break;
		}
		case AF_BOOL:
			v = json_object_new_boolean(*(const bool *)p);
			break;
		case AF_ENUM:
			v = json_object_new_string(f->enums[*(const int *)p]);
			break;
		case AF_TIME:
			if (*(const int64_t *)p != 0) {
				char ts[32];

				time_format(*(const int64_t *)p, ts);
				v = json_object_new_string(ts);
			}
			break;
		case AF_SUB:
			/* An optional sub-object left empty is null. */
			if ((f->flags & (AF_REQ | AF_EMIT)) ||
			    !mem_is_zero(p, f->size))
				v = api_encode(f->sub, p);
			break;
		case AF_ARR: {
			size_t k, nslots = f->size / f->sub->size;

			v = json_object_new_array();
			for (k = 0; k < nslots; k++) {
				const char *slot = (const char *)p +
				    k * f->sub->size;

				if (!mem_is_zero(slot, f->sub->size))
					json_object_array_add(v,
					    api_encode(f->sub, slot));
			}
			break;
		}
		}
		json_object_object_add(o, f->name, v);
	}
	return o;
}

char *
api_encode_text(const struct api_schema *s, const void *obj)
{
	json_object *o = api_encode(s, obj);
	char *t = json_dump(o);

	json_object_put(o);
	return t;
}

static const struct api_field *
field_find(const struct api_schema *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nfields; i++)
		if (strcmp(s->fields[i].name, name) == 0)
			return &s->fields[i];
	return NULL;
}

static int
field_decode(const struct api_schema *s, const struct api_field *f,
    json_object *v, char *base, enum api_mode mode, struct vm_error *err)
{
	void *p = base + f->off;
	const char *str;

	if (f->type != AF_INT && f->type != AF_BOOL && f->type != AF_SUB &&
	    f->type != AF_ARR &&
	    !json_object_is_type(v, json_type_string)) {
		vm_error_set(err, API_EINVAL, "%s.%s: must be a string",
		    s->name, f->name);
		return -1;
	}
	str = json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : "";
	if (json_object_is_type(v, json_type_string) &&
	    (size_t)json_object_get_string_len(v) != strlen(str)) {
		vm_error_set(err, API_EINVAL, "%s.%s: must not contain NUL",
		    s->name, f->name);
		return -1;
	}
	switch (f->type) {
	case AF_STR:
		if (strlen(str) >= f->size) {
			vm_error_set(err, API_EINVAL,
			    "%s.%s: longer than %zu characters", s->name,
			    f->name, f->size - 1);
			return -1;
		}
		if (!api_text_valid(str, mode == API_INPUT ?
		    API_TEXT_STRICT : 0)) {
			vm_error_set(err, API_EINVAL,
			    "%s.%s: control characters are not allowed",
			    s->name, f->name);
			return -1;
		}
		str_copy(p, f->size, str);
		return 0;
	case AF_TEXT: {
		if (strlen(str) >= f->size) {
			vm_error_set(err, API_EINVAL,
			    "%s.%s: longer than %zu characters", s->name,
			    f->name, f->size - 1);
			return -1;
		}
		if (!api_text_valid(str, API_TEXT_LINES |
		    (mode == API_INPUT ? API_TEXT_STRICT : 0))) {
			vm_error_set(err, API_EINVAL, "%s.%s: control "
			    "characters other than tab and line ends "
			    "are not allowed", s->name, f->name);
			return -1;
		}
		str_copy(p, f->size, str);
		return 0;
	}
	case AF_NAME:
		if (!api_name_valid(str)) {
			vm_error_set(err, API_EINVAL,
			    "%s.%s: '%.64s' is not a valid name (1-63 of a-z, "
			    "0-9 and '-', not starting with '-')", s->name,
			    f->name, str);
			return -1;
		}
		str_copy(p, f->size, str);
		return 0;
	case AF_UUID:
		if (!uuid_valid(str)) {
			vm_error_set(err, API_EINVAL,
			    "%s.%s: '%.40s' is not a valid uuid", s->name,
			    f->name, str);
			return -1;
		}
		str_copy(p, f->size, str);
		return 0;
	case AF_PATH:
		if (!api_path_valid(str) || strlen(str) >= f->size) {
			vm_error_set(err, API_EINVAL,
			    "%s.%s: '%.80s' is not a valid absolute path "
			    "(A-Z a-z 0-9 . _ + - /, no '..')", s->name,
			    f->name, str);
			return -1;
		}
		str_copy(p, f->size, str);
		return 0;
	case AF_INT: {
		int64_t n;

		if (!json_object_is_type(v, json_type_int)) {
			vm_error_set(err, API_EINVAL,
			    "%s.%s: must be an integer", s->name, f->name);
			return -1;
		}
		errno = 0;
		n = json_object_get_int64(v);
		if (errno != 0 || n < f->min || n > f->max) {
			vm_error_set(err, API_EINVAL,
			    "%s.%s: must be between %lld and %lld", s->name,
			    f->name, f->min, f->max);
			return -1;
		}
		*(int64_t *)p = n;
		return 0;
	}
	case AF_BOOL:
		if (!json_object_is_type(v, json_type_boolean)) {
			vm_error_set(err, API_EINVAL,
			    "%s.%s: must be true or false", s->name, f->name);
			return -1;
		}
		*(bool *)p = json_object_get_boolean(v);
		return 0;
	case AF_ENUM: {
		int idx = api_enum_index(f->enums, str);
		struct buf b = { 0 };
		int i;

		if (idx >= 0) {
			*(int *)p = idx;
			return 0;
		}
		for (i = 0; f->enums[i] != NULL; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", f->enums[i]);
		vm_error_set(err, API_EINVAL, "%s.%s: '%.40s' is not one of: %s",
		    s->name, f->name, str, b.data ? b.data : "");
		buf_free(&b);
		return -1;
	}
	case AF_TIME: {
		int64_t ms;

		if (time_parse(str, &ms) < 0) {
			vm_error_set(err, API_EINVAL,
			    "%s.%s: not an ISO-8601 UTC time", s->name,
			    f->name);
			return -1;
		}
		*(int64_t *)p = ms;
		return 0;
	}
	case AF_SUB:
		return api_decode(f->sub, v, p, mode, err);
	case AF_ARR: {
		size_t k, n, nslots = f->size / f->sub->size;

		if (!json_object_is_type(v, json_type_array)) {
			vm_error_set(err, API_EINVAL, "%s.%s: must be an array",
			    s->name, f->name);
			return -1;
		}
		n = json_object_array_length(v);
		if (n > nslots) {
			vm_error_set(err, API_EINVAL,
			    "%s.%s: at most %zu items", s->name, f->name,
			    nslots);
			return -1;
		}
		for (k = 0; k < n; k++)
			if (api_decode(f->sub, json_object_array_get_idx(v, k),
			    (char *)p + k * f->sub->size, mode, err) < 0)
				return -1;
		return 0;
	}
	}
	vm_error_set(err, API_EINTERNAL, "bad schema");
	return -1;
}

int
api_decode(const struct api_schema *s, json_object *o, void *obj,
    enum api_mode mode, struct vm_error *err)
{
	const struct api_field *f;
	char *base = obj;
	size_t i;

	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		vm_error_set(err, API_EINVAL, "%s: must be a JSON object",
		    s->name);
		return -1;
	}
	memset(obj, 0, s->size);
	{
		json_object_object_foreach(o, key, val) {
			f = field_find(s, key);
			if (f == NULL) {
				vm_error_set(err, API_EINVAL,
				    "%s: unknown field '%.64s'", s->name, key);
				return -1;
			}
			if (mode == API_INPUT && (f->flags & AF_RO)) {
				vm_error_set(err, API_EINVAL,
				    "%s.%s: is read-only", s->name, key);
				return -1;
			}
			if (val == NULL) {
				if (f->flags & AF_REQ) {
					vm_error_set(err, API_EINVAL,
					    "%s.%s: must not be null", s->name,
					    key);
					return -1;
				}
				continue;
			}
			if (field_decode(s, f, val, base, mode, err) < 0)
				return -1;
		}
	}
	for (i = 0; i < s->nfields; i++) {
		json_object *v = NULL;

		f = &s->fields[i];
		if ((f->flags & AF_REQ) && (mode == API_INPUT ||
		    !(f->flags & AF_RO)) &&
		    (!json_object_object_get_ex(o, f->name, &v) || v == NULL)) {
			vm_error_set(err, API_EINVAL, "%s.%s: is required",
			    s->name, f->name);
			return -1;
		}
	}
	if (s->validate != NULL && s->validate(obj, err) < 0)
		return -1;
	return 0;
}

int
api_decode_text(const struct api_schema *s, const char *text, size_t len,
    void *obj, enum api_mode mode, struct vm_error *err)
{
	json_object *o;
	int ret;

	if (len > API_BODY_MAX) {
		vm_error_set(err, API_ETOOLARGE,
		    "request body larger than %zu bytes", API_BODY_MAX);
		return -1;
	}
	o = json_parse(text, len, API_EMALFORMED, err);
	if (o == NULL)
		return -1;
	ret = api_decode(s, o, obj, mode, err);
	json_object_put(o);
	return ret;
}
