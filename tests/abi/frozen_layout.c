/*
 * The layout of every ABI 1.0 struct member under the frozen 1.0 header (tests/abi/frozen-1.0/
 * only on the include path), for tests/unit/plugin/test_loader.c to compare with the current
 * header. Also records the values of the 1.0 constants.
 */
#include <stddef.h>

#include <latch/connector.h>

#include "layout_list.h"

extern const struct latch_abi_member latch_abi_frozen_members[];
extern const size_t latch_abi_frozen_nmembers;
extern const struct latch_abi_constant latch_abi_frozen_constants[];
extern const size_t latch_abi_frozen_nconstants;

const struct latch_abi_member latch_abi_frozen_members[] = {
    LATCH_ABI_1_0_MEMBERS(LATCH_ABI_MEMBER)};
const size_t latch_abi_frozen_nmembers =
    sizeof(latch_abi_frozen_members) / sizeof(latch_abi_frozen_members[0]);

const struct latch_abi_constant latch_abi_frozen_constants[] = {
    LATCH_ABI_1_0_CONSTANTS(LATCH_ABI_CONSTANT)};
const size_t latch_abi_frozen_nconstants =
    sizeof(latch_abi_frozen_constants) / sizeof(latch_abi_frozen_constants[0]);
