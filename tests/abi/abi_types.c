/*
 * The ABI 1.0 types as libabigail sees them: one exported function whose parameters reach every
 * struct and enum of connector ABI 1.0 (and of 1.1 with LATCH_ABI_TYPES_1_1), so the DWARF of
 * this object holds them all. Built against
 * the frozen 1.0 header (the committed baseline, connector-1.0.abi, is abidw's description of that
 * build), against the current header (which abidiff compares with the baseline), and against
 * deliberately altered copies of the 1.0 header (which abidiff must refuse). LATCH_ABI_HEADER,
 * when set, names the header to use instead of <latch/connector.h>.
 */
#ifdef LATCH_ABI_HEADER
#include LATCH_ABI_HEADER
#else
#include <latch/connector.h>
#endif

/* The parameter list, written once for the declaration (-Wmissing-prototypes) and the
 * definition. */
#define ABI_TYPES_PARAMS                                                                           \
    (const struct latch_connector_descriptor *descriptor, const struct latch_connector_ops *ops,   \
     const struct latch_connector_host *host, const struct latch_connector_field *field,           \
     const struct latch_connector_i18n *i18n, const struct latch_connector_http_header *header,    \
     const struct latch_connector_http_request *request,                                           \
     const struct latch_connector_http_response *response,                                         \
     const struct latch_connector_auth_request *auth,                                              \
     const struct latch_connector_user_info *user, const struct latch_connector_param *param,      \
     struct latch_connector_ctx *ctx, enum latch_connector_kind kind,                              \
     enum latch_connector_status status, enum latch_connector_log_level level,                     \
     enum latch_connector_field_type type, latch_connector_describe_fn describe ABI_TYPES_1_1)

/* With LATCH_ABI_TYPES_1_1 (the 1.1 baseline, connector-1.1.abi, and the build compared with
 * it), the types ABI 1.1 added as well. */
#ifdef LATCH_ABI_TYPES_1_1
#define ABI_TYPES_1_1                                                                              \
    , enum latch_connector_json_type json_type,                                                    \
        const struct latch_connector_json_members *members,                                        \
        enum latch_connector_template template_type,                                               \
        const struct latch_connector_message *message, enum latch_connector_smtp_tls tls,          \
        const struct latch_connector_smtp_request *smtp_request,                                   \
        const struct latch_connector_smtp_response *smtp_response
#else
#define ABI_TYPES_1_1
#endif

__attribute__((visibility("default"))) void latch_abi_types ABI_TYPES_PARAMS;

/* Empty: only the types of its parameters matter. */
__attribute__((visibility("default"))) void latch_abi_types ABI_TYPES_PARAMS
{
}
