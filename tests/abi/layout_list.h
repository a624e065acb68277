/*
 * Every member of every struct of connector ABI 1.0, as an X-macro list: tests/abi/
 * frozen_layout.c records their offsets and sizes under the frozen 1.0 header, and
 * tests/unit/plugin/test_loader.c compares them with the current header's. A 1.x header may add
 * members at the end of a struct only, so each of these must keep its offset and size.
 * Included after <latch/connector.h>; defines nothing itself.
 */
#define LATCH_ABI_1_0_MEMBERS(X)                                                                   \
    X(latch_connector_i18n, lang)                                                                  \
    X(latch_connector_i18n, text)                                                                  \
    X(latch_connector_field, struct_size)                                                          \
    X(latch_connector_field, type)                                                                 \
    X(latch_connector_field, key)                                                                  \
    X(latch_connector_field, required)                                                             \
    X(latch_connector_field, confidential)                                                         \
    X(latch_connector_field, default_value)                                                        \
    X(latch_connector_field, label)                                                                \
    X(latch_connector_field, description)                                                          \
    X(latch_connector_http_header, name)                                                           \
    X(latch_connector_http_header, value)                                                          \
    X(latch_connector_http_request, struct_size)                                                   \
    X(latch_connector_http_request, timeout_ms)                                                    \
    X(latch_connector_http_request, method)                                                        \
    X(latch_connector_http_request, url)                                                           \
    X(latch_connector_http_request, headers)                                                       \
    X(latch_connector_http_request, nheaders)                                                      \
    X(latch_connector_http_request, body)                                                          \
    X(latch_connector_http_request, body_len)                                                      \
    X(latch_connector_http_response, struct_size)                                                  \
    X(latch_connector_http_response, status)                                                       \
    X(latch_connector_http_response, body)                                                         \
    X(latch_connector_http_response, body_len)                                                     \
    X(latch_connector_http_response, content_type)                                                 \
    X(latch_connector_host, struct_size)                                                           \
    X(latch_connector_host, host_major)                                                            \
    X(latch_connector_host, host_minor)                                                            \
    X(latch_connector_host, alloc)                                                                 \
    X(latch_connector_host, dup)                                                                   \
    X(latch_connector_host, format)                                                                \
    X(latch_connector_host, log_msg)                                                               \
    X(latch_connector_host, config_get)                                                            \
    X(latch_connector_host, session_set)                                                           \
    X(latch_connector_host, session_get)                                                           \
    X(latch_connector_host, http)                                                                  \
    X(latch_connector_host, form_add)                                                              \
    X(latch_connector_host, json_get)                                                              \
    X(latch_connector_host, json_string)                                                           \
    X(latch_connector_host, base64)                                                                \
    X(latch_connector_auth_request, struct_size)                                                   \
    X(latch_connector_auth_request, state)                                                         \
    X(latch_connector_auth_request, redirect_uri)                                                  \
    X(latch_connector_auth_request, scope)                                                         \
    X(latch_connector_user_info, struct_size)                                                      \
    X(latch_connector_user_info, email_verified)                                                   \
    X(latch_connector_user_info, id)                                                               \
    X(latch_connector_user_info, name)                                                             \
    X(latch_connector_user_info, email)                                                            \
    X(latch_connector_user_info, phone)                                                            \
    X(latch_connector_user_info, avatar)                                                           \
    X(latch_connector_user_info, raw_json)                                                         \
    X(latch_connector_param, name)                                                                 \
    X(latch_connector_param, value)                                                                \
    X(latch_connector_ops, struct_size)                                                            \
    X(latch_connector_ops, get_authorization_uri)                                                  \
    X(latch_connector_ops, get_user_info)                                                          \
    X(latch_connector_ops, validate_config)                                                        \
    X(latch_connector_descriptor, magic)                                                           \
    X(latch_connector_descriptor, struct_size)                                                     \
    X(latch_connector_descriptor, abi_major)                                                       \
    X(latch_connector_descriptor, abi_minor)                                                       \
    X(latch_connector_descriptor, kind)                                                            \
    X(latch_connector_descriptor, flags)                                                           \
    X(latch_connector_descriptor, id)                                                              \
    X(latch_connector_descriptor, target)                                                          \
    X(latch_connector_descriptor, version)                                                         \
    X(latch_connector_descriptor, name)                                                            \
    X(latch_connector_descriptor, description)                                                     \
    X(latch_connector_descriptor, logo)                                                            \
    X(latch_connector_descriptor, logo_dark)                                                       \
    X(latch_connector_descriptor, readme)                                                          \
    X(latch_connector_descriptor, config_template)                                                 \
    X(latch_connector_descriptor, fields)                                                          \
    X(latch_connector_descriptor, nfields)                                                         \
    X(latch_connector_descriptor, ops)

/* Constants a 1.x header may never change. */
#define LATCH_ABI_1_0_CONSTANTS(X)                                                                 \
    X(LATCH_CONNECTOR_ABI_MAJOR)                                                                   \
    X(LATCH_CONNECTOR_MAGIC)                                                                       \
    X(LATCH_CONNECTOR_SOCIAL)                                                                      \
    X(LATCH_CONNECTOR_EMAIL)                                                                       \
    X(LATCH_CONNECTOR_SMS)                                                                         \
    X(LATCH_CONNECTOR_FLAG_STANDARD)                                                               \
    X(LATCH_CONNECTOR_OK)                                                                          \
    X(LATCH_CONNECTOR_ERR_GENERAL)                                                                 \
    X(LATCH_CONNECTOR_ERR_INVALID_CONFIG)                                                          \
    X(LATCH_CONNECTOR_ERR_INVALID_RESPONSE)                                                        \
    X(LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED)                                                    \
    X(LATCH_CONNECTOR_ERR_AUTH_CODE_INVALID)                                                       \
    X(LATCH_CONNECTOR_ERR_ACCESS_TOKEN_INVALID)                                                    \
    X(LATCH_CONNECTOR_ERR_TIMEOUT)                                                                 \
    X(LATCH_CONNECTOR_ERR_NOT_IMPLEMENTED)                                                         \
    X(LATCH_CONNECTOR_LOG_DEBUG)                                                                   \
    X(LATCH_CONNECTOR_LOG_INFO)                                                                    \
    X(LATCH_CONNECTOR_LOG_WARN)                                                                    \
    X(LATCH_CONNECTOR_LOG_ERROR)                                                                   \
    X(LATCH_CONNECTOR_FIELD_TEXT)                                                                  \
    X(LATCH_CONNECTOR_FIELD_MULTILINE_TEXT)                                                        \
    X(LATCH_CONNECTOR_FIELD_NUMBER)                                                                \
    X(LATCH_CONNECTOR_FIELD_SWITCH)                                                                \
    X(LATCH_CONNECTOR_FIELD_JSON)

struct latch_abi_constant {
    const char *name;
    unsigned long long value;
};

#define LATCH_ABI_CONSTANT(name) {#name, (unsigned long long)(name)},

/* One entry per member: "struct.member", offset, size. */
struct latch_abi_member {
    const char *name;
    size_t offset;
    size_t size;
};

#define LATCH_ABI_MEMBER(type, member)                                                             \
    {#type "." #member, offsetof(struct type, member), sizeof(((struct type *)0)->member)},
