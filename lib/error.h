/*
 * error: the error record filled once, where a failure happens, and
 * passed up unchanged (libvirt's virReportError discipline). The code is
 * an enum api_err value (api/errors.h); lib/ treats it as an int.
 */
#ifndef VMCTL_LIB_ERROR_H
#define VMCTL_LIB_ERROR_H

#include "util.h"

struct vm_error {
	int code;		/* enum api_err; 0 = no error */
	char message[512];
};

void vm_error_set(struct vm_error *err, int code, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
void vm_error_clear(struct vm_error *err);

#endif
