/* The parser module: limits as parameters and the "parser" service for the core and transports. */
#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/msg.h>
#include <sipd/service.h>

#include "parser_int.h"

struct parser_limits parser_limits = {
    .max_message_size = 65536,
    .max_headers = 256,
    .max_line_length = 8192,
    .max_uri_length = 4096,
};

static const struct sipd_parser_api api = {
    .parse = parser_parse,
    .free = parser_free,
    .frame_length = parser_frame_length,
    .check_request = parser_check_request,
    .uri_parse = parser_uri_parse,
};

static const struct sipd_param_def params[] = {
    {.name = "max_message_size",
     .type = SIPD_PARAM_INT,
     .var = &parser_limits.max_message_size,
     .min = 512,
     .max = 16 * 1024 * 1024,
     .help = "largest message accepted, in bytes"},
    {.name = "max_headers",
     .type = SIPD_PARAM_INT,
     .var = &parser_limits.max_headers,
     .min = 8,
     .max = 65536,
     .help = "most header lines in one message"},
    {.name = "max_line_length",
     .type = SIPD_PARAM_INT,
     .var = &parser_limits.max_line_length,
     .min = 128,
     .max = 16 * 1024 * 1024,
     .help = "longest start or header line, in bytes"},
    {.name = "max_uri_length",
     .type = SIPD_PARAM_INT,
     .var = &parser_limits.max_uri_length,
     .min = 64,
     .max = 1024 * 1024,
     .help = "longest URI, in bytes"},
    {.name = NULL},
};

static int parser_init(void)
{
	int err = sipd_service_provide(SIPD_PARSER_SERVICE, SIPD_PARSER_VERSION, &api);

	if (err)
		SIPD_ERR("cannot provide the parser service: error %d", err);
	return err;
}

static void parser_stop(void)
{
	parser_msg_spares_free();
}

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,  .name = "parser",
    .version = "1.0",    .description = "RFC 3261 message parser: lazy, zero-copy, with edits and replies",
    .params = params,    .init = parser_init,
    .stop = parser_stop,
};
