/*-------------------------------------------------------------------------
 *
 * compat.h
 *		The one place where olink depends on the PostgreSQL major version.
 *
 * olink is built and tested against PostgreSQL 15.  Version 16 moved the
 * permission fields of RangeTblEntry into RTEPermissionInfo and changed the
 * ExecutorCheckPerms_hook signature; a port belongs here, behind these
 * macros, not in scattered #if blocks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OLINK_COMPAT_H
#define OLINK_COMPAT_H

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "olink supports PostgreSQL 15 only"
#endif

/* the permission fields of a range table entry (PostgreSQL 15 keeps them in the RTE) */
#define OLINK_RTE_REQUIRED_PERMS(rte)	((rte)->requiredPerms)
#define OLINK_RTE_CHECK_AS_USER(rte)	((rte)->checkAsUser)
#define OLINK_RTE_SELECTED_COLS(rte)	((rte)->selectedCols)
#define OLINK_RTE_INSERTED_COLS(rte)	((rte)->insertedCols)
#define OLINK_RTE_UPDATED_COLS(rte)		((rte)->updatedCols)

#endif							/* OLINK_COMPAT_H */
