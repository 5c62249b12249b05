/*
 * store_migrate: upgrade an older store's layout to STORE_SCHEMA_VERSION
 * inside the caller's write transaction (store_open at start-up).
 */
#ifndef VMCTL_CONTROLLER_STORE_MIGRATE_H
#define VMCTL_CONTROLLER_STORE_MIGRATE_H

#include "store.h"

/* Upgrade from schema `from`; 0, or -1 with err (txn then unusable). */
int store_migrate(struct store_txn *txn, int from, struct vm_error *err);

#endif
