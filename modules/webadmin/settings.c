/* The settings shared by webadmin's parts, with their defaults (modules.conf sets them before init). */
#include "webadmin.h"

int wa_session_ttl = 3600;
int wa_max_body = 1 << 20;
int wa_max_upload = 20 << 20;
int wa_pbkdf2_iterations = 600000;
int wa_login_max_failures = 5, wa_login_window = 300, wa_login_lockout = 60;
int wa_max_event_clients = 16;
const char *wa_upload_dir = "";
const char *wa_webroot;
bool wa_https;
